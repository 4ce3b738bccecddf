/**
 * One reconcile pass, planned as data: which runners to delete and how many to create so the pool
 * keeps its warm target. Pure, so every rule is tested without a substrate; the controller
 * carries the plan out.
 */
import type { Runner } from '../substrates/types.js';

export const LEASE_EXPIRES_ANNOTATION = 'mcpwarm.dev/lease-expires-at';

export interface PoolPolicy {
  warmTarget: number;
  /** Runners of any state this pool may hold at once. */
  maxSize: number;
  /** Warm runners older than this are replaced (rotation). */
  maxAgeMs: number;
  /** Creation backoff after consecutive failures: base x 2^(failures - 1), capped. */
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export interface CreationHistory {
  consecutiveFailures: number;
  lastFailureAtMs?: number;
}

export type DeleteReason = 'failed' | 'gone' | 'lease-expired' | 'draining' | 'too-old' | 'surplus';

export interface ReconcilePlan {
  delete: Array<{ id: string; reason: DeleteReason }>;
  create: number;
  /** Set when creation is held back by the failure backoff, until this time (ms). */
  backoffUntilMs?: number;
}

export function backoffDelayMs(failures: number, policy: Pick<PoolPolicy, 'backoffBaseMs' | 'backoffMaxMs'>): number {
  return failures <= 0 ? 0 : Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** (failures - 1));
}

const age = (runner: Runner, nowMs: number): number => nowMs - Date.parse(runner.createdAt);

export function planReconcile(runners: readonly Runner[], policy: PoolPolicy, history: CreationHistory, nowMs: number): ReconcilePlan {
  const doomed = new Map<string, DeleteReason>();
  for (const runner of runners) {
    if (runner.phase === 'failed' || runner.phase === 'gone') doomed.set(runner.id, runner.phase);
    else if (runner.state === 'draining') doomed.set(runner.id, 'draining');
    else if (runner.state === 'claimed') {
      const expires = Date.parse(runner.annotations[LEASE_EXPIRES_ANNOTATION] ?? '');
      if (Number.isFinite(expires) && expires <= nowMs) doomed.set(runner.id, 'lease-expired');
    }
  }
  const warm = runners.filter((r) => !doomed.has(r.id) && r.state === 'warm').sort((a, b) => age(b, nowMs) - age(a, nowMs));
  // Surplus goes first, oldest first; then one over-age runner per pass, so rotation never empties the pool.
  let surplus = warm.length - policy.warmTarget;
  for (const runner of warm) {
    if (surplus <= 0) break;
    doomed.set(runner.id, 'surplus');
    surplus -= 1;
  }
  const tooOld = warm.find((r) => !doomed.has(r.id) && r.phase === 'running' && age(r, nowMs) > policy.maxAgeMs);
  if (tooOld) doomed.set(tooOld.id, 'too-old');

  const remaining = runners.filter((r) => !doomed.has(r.id));
  const warmLeft = remaining.filter((r) => r.state === 'warm').length;
  const wanted = Math.max(0, Math.min(policy.warmTarget - warmLeft, policy.maxSize - remaining.length));
  const plan: ReconcilePlan = { delete: [...doomed].map(([id, reason]) => ({ id, reason })), create: wanted };
  if (wanted > 0 && history.consecutiveFailures > 0 && history.lastFailureAtMs !== undefined) {
    const until = history.lastFailureAtMs + backoffDelayMs(history.consecutiveFailures, policy);
    if (nowMs < until) return { ...plan, create: 0, backoffUntilMs: until };
  }
  return plan;
}

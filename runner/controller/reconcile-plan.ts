/**
 * One reconcile pass, planned as data: which runners to delete and how many to create so the pool
 * keeps its warm target. Pure, so every rule is tested without a substrate; the controller
 * carries the plan out.
 */
import type { Runner } from '../substrates/types.js';
import { awaitingPrefetch } from './prefetch.js';

export const LEASE_EXPIRES_ANNOTATION = 'mcpwarm.dev/lease-expires-at';
export const CLAIMED_AT_ANNOTATION = 'mcpwarm.dev/claimed-at';
/** Written once the agent activated the image: `active` (a client's), `shelved` (made ahead for the hot tier). */
export const ACTIVATION_STATE_ANNOTATION = 'mcpwarm.dev/activation-state';

/** Default of PoolPolicy.abandonedClaimMs. */
export const DEFAULT_ABANDONED_CLAIM_MS = 10 * 60_000;

export interface PoolPolicy {
  warmTarget: number;
  /** Runners of any state this pool may hold at once. */
  maxSize: number;
  /** Warm runners older than this are replaced (rotation). */
  maxAgeMs: number;
  /** Creation backoff after consecutive failures: base x 2^(failures - 1), capped. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /**
   * A claim whose activation was not recorded within this long was abandoned (its controller went
   * away while making it): the runner is deleted (default 10 minutes, longer than an activation).
   */
  abandonedClaimMs?: number;
  /** Runners are prefetched into before they are claimable: one still prefetching is still starting. */
  prefetch?: boolean;
}

export interface CreationHistory {
  consecutiveFailures: number;
  lastFailureAtMs?: number;
}

/** Why a runner was deleted; `cancelled` (a runner claimed or made for an activation the controller gave up on as it stopped) is the pool's own, not planned here. */
export type DeleteReason = 'failed' | 'gone' | 'lease-expired' | 'abandoned' | 'draining' | 'too-old' | 'surplus' | 'cancelled';

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

/**
 * `waiting`: activations queued for a warm runner. They are demand the warm target may not cover
 * yet (the arrival rate lags a burst), so runners are made for them too, within maxSize, and no
 * warm runner is surplus while they wait.
 */
export function planReconcile(runners: readonly Runner[], policy: PoolPolicy, history: CreationHistory, nowMs: number, waiting = 0): ReconcilePlan {
  const warmWanted = policy.warmTarget + waiting;
  const doomed = new Map<string, DeleteReason>();
  for (const runner of runners) {
    if (runner.phase === 'failed' || runner.phase === 'gone') doomed.set(runner.id, runner.phase);
    else if (runner.state === 'draining') doomed.set(runner.id, 'draining');
    else if (runner.state === 'claimed') {
      const expires = Date.parse(runner.annotations[LEASE_EXPIRES_ANNOTATION] ?? '');
      const claimedAt = Date.parse(runner.annotations[CLAIMED_AT_ANNOTATION] ?? '');
      if (Number.isFinite(expires) && expires <= nowMs) doomed.set(runner.id, 'lease-expired');
      else if (!runner.annotations[ACTIVATION_STATE_ANNOTATION] && nowMs - claimedAt > (policy.abandonedClaimMs ?? DEFAULT_ABANDONED_CLAIM_MS)) {
        doomed.set(runner.id, 'abandoned');
      }
    }
  }
  // Surplus goes first: runners still starting before ready ones (a claim that was undone leaves a
  // ready runner and its pending replacement), then the oldest; then one over-age runner per
  // pass, so rotation never empties the pool.
  const starting = (r: Runner): number => (r.phase === 'pending' || (policy.prefetch === true && awaitingPrefetch(r)) ? 0 : 1);
  const warm = runners
    .filter((r) => !doomed.has(r.id) && r.state === 'warm')
    .sort((a, b) => starting(a) - starting(b) || age(b, nowMs) - age(a, nowMs));
  let surplus = warm.length - warmWanted;
  for (const runner of warm) {
    if (surplus <= 0) break;
    doomed.set(runner.id, 'surplus');
    surplus -= 1;
  }
  const tooOld = warm.find((r) => !doomed.has(r.id) && starting(r) === 1 && r.phase === 'running' && age(r, nowMs) > policy.maxAgeMs);
  if (tooOld) doomed.set(tooOld.id, 'too-old');

  const remaining = runners.filter((r) => !doomed.has(r.id));
  const warmLeft = remaining.filter((r) => r.state === 'warm').length;
  const wanted = Math.max(0, Math.min(warmWanted - warmLeft, policy.maxSize - remaining.length));
  const plan: ReconcilePlan = { delete: [...doomed].map(([id, reason]) => ({ id, reason })), create: wanted };
  if (wanted > 0 && history.consecutiveFailures > 0 && history.lastFailureAtMs !== undefined) {
    const until = history.lastFailureAtMs + backoffDelayMs(history.consecutiveFailures, policy);
    if (nowMs < until) return { ...plan, create: 0, backoffUntilMs: until };
  }
  return plan;
}

/** Default cap on cold-fallback runners being made at once. */
export const DEFAULT_MAX_COLD_RUNNERS = 2;

export interface ColdFallbackState {
  /** Whether the pool makes a runner for an activation that found no warm one in time. */
  enabled: boolean;
  /** Cold-fallback runners being made now. */
  coldRunners: number;
  maxColdRunners: number;
  /** Measured seconds from creating a runner to its agent being ready. */
  refillSeconds: number;
}

export type ColdFallbackDecision = { create: true } | { create: false; reason: 'disabled' | 'at-capacity'; retryAfterSeconds: number };

/**
 * For an activation that waited in vain for a warm runner: a runner made for it, or a 503. Cold
 * runners are capped: under a burst every activation past the warm runners would otherwise start
 * an agent at once, and the machine, overloaded, fails them. At the cap, a cold runner frees its
 * slot once ready, so the client is told to retry after about the refill time; without the
 * fallback, after a second (a warm runner may come free at any moment).
 */
export function decideColdFallback(state: ColdFallbackState): ColdFallbackDecision {
  if (!state.enabled) return { create: false, reason: 'disabled', retryAfterSeconds: 1 };
  if (state.coldRunners < state.maxColdRunners) return { create: true };
  return { create: false, reason: 'at-capacity', retryAfterSeconds: Math.max(1, Math.ceil(state.refillSeconds)) };
}

/**
 * Claiming a warm runner for one activation: a compare-and-set of the runner's state from `warm`
 * to `claimed` at the version the controller read. Whoever changed it first wins; a loser moves
 * on to the next candidate. No runner can be handed to two activations, whatever the concurrency
 * and however many controllers serve claims.
 */
import { McpWarmError, isMcpWarmError } from '../errors.js';
import type { Runner, Substrate } from '../substrates/types.js';
import { ACTIVATION_STATE_ANNOTATION, CLAIMED_AT_ANNOTATION, LEASE_EXPIRES_ANNOTATION } from './reconcile-plan.js';

// Defined with the reconcile plan, which reads it too; named here with the other claim annotations.
export { CLAIMED_AT_ANNOTATION };

export const ACTIVATION_ANNOTATION = 'mcpwarm.dev/activation';
export const IMAGE_ANNOTATION = 'mcpwarm.dev/image';
/** The tier the activation was served from. */
export const TIER_ANNOTATION = 'mcpwarm.dev/tier';
/** The named server the activation is a replica of, if any. */
export const SERVER_ANNOTATION = 'mcpwarm.dev/server';

/** Every annotation a claim and its activation put on a runner (removed when a claim is undone). */
export const CLAIM_ANNOTATIONS = [
  ACTIVATION_ANNOTATION,
  IMAGE_ANNOTATION,
  CLAIMED_AT_ANNOTATION,
  LEASE_EXPIRES_ANNOTATION,
  ACTIVATION_STATE_ANNOTATION,
  TIER_ANNOTATION,
  SERVER_ANNOTATION,
] as const;

export interface ClaimRequest {
  activationId: string;
  image: string;
  leaseMs: number;
  nowMs: number;
}

export interface Claimed {
  runner: Runner;
  /** Candidates lost to a concurrent claim before this one won. */
  conflicts: number;
}

/** Runners that can take an activation now: warm, and with a ready agent. */
export function claimable(runners: readonly Runner[]): Runner[] {
  return runners.filter((r) => r.state === 'warm' && r.phase === 'running' && r.endpoint !== undefined);
}

/**
 * Tries the candidates in the order given (callers spread concurrent claims over them) and returns
 * the first one claimed, or undefined when every candidate was taken by someone else.
 */
export async function claimRunner(substrate: Substrate, candidates: readonly Runner[], request: ClaimRequest): Promise<Claimed | undefined> {
  let conflicts = 0;
  for (const candidate of candidates) {
    try {
      const runner = await substrate.updateRunner(candidate.id, candidate.version, {
        state: 'claimed',
        annotations: {
          [ACTIVATION_ANNOTATION]: request.activationId,
          [IMAGE_ANNOTATION]: request.image,
          [CLAIMED_AT_ANNOTATION]: new Date(request.nowMs).toISOString(),
          [LEASE_EXPIRES_ANNOTATION]: new Date(request.nowMs + request.leaseMs).toISOString(),
        },
      });
      return { runner, conflicts };
    } catch (error) {
      if (isMcpWarmError(error) && (error.code === 'RUNNER_CONFLICT' || error.code === 'RUNNER_NOT_FOUND')) {
        conflicts += 1;
        continue;
      }
      throw error;
    }
  }
  return undefined;
}

/**
 * Resolves with the runner once it is claimable (`current` is how it looks now, if known);
 * rejects when it fails or goes away first, after `timeoutMs`, or with `signal`'s reason.
 */
export function untilClaimable(substrate: Substrate, id: string, current: Runner | undefined, timeoutMs: number, signal?: AbortSignal): Promise<Runner> {
  return new Promise((resolve, reject) => {
    const check = (runner: Runner | undefined): void => {
      if (runner && claimable([runner]).length > 0) {
        finish();
        resolve(runner);
      } else if (runner && (runner.phase === 'failed' || runner.phase === 'gone')) {
        finish();
        reject(new McpWarmError('SUBSTRATE_FAILED', `runner ${id} failed before it was ready`));
      }
    };
    const unwatch = substrate.watch((event) => {
      if (event.runner.id === id) check(event.runner);
    });
    const timer = setTimeout(() => {
      finish();
      reject(new McpWarmError('SUBSTRATE_FAILED', `runner ${id} was not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const abandon = () => {
      finish();
      reject(signal!.reason);
    };
    const finish = () => {
      unwatch();
      clearTimeout(timer);
      signal?.removeEventListener('abort', abandon);
    };
    if (signal?.aborted) return abandon();
    signal?.addEventListener('abort', abandon, { once: true });
    check(current);
  });
}

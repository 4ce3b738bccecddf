/**
 * Refill time of a pool, measured from outside by watching its runners. A claim takes a runner
 * out of the warm set and the controller starts a replacement at once (or, at the pool's maximum
 * size, once a used runner is destroyed); the refill time of a claim is how long the warm set
 * stays one short: from the claim to the next runner becoming claimable. Runners are matched to
 * claims first come, first served.
 */
import { CLAIMED_AT_ANNOTATION } from '../../runner/controller/claim.js';

/** What the watcher needs of a runner in the controller's `GET /pool` list. */
export interface RunnerSighting {
  id: string;
  state: string;
  phase: string;
  createdAt: string;
  annotations: Record<string, string>;
}

interface Seen {
  createdAtMs: number;
  /** First time it was seen claimable; undefined while it was not yet. */
  readyAtMs?: number;
  /** Running at the first listing: it became ready before watching began. */
  preexisting: boolean;
  claimedAtMs?: number;
}

const isClaimable = (runner: RunnerSighting): boolean => runner.state === 'warm' && runner.phase === 'running';

export class RunnerTimeline {
  private readonly seen = new Map<string, Seen>();
  private startedAtMs: number | undefined;

  /** Folds in one listing of the pool taken at `atMs` (epoch ms). */
  observe(runners: readonly RunnerSighting[], atMs: number): void {
    this.startedAtMs ??= atMs;
    for (const runner of runners) {
      let seen = this.seen.get(runner.id);
      if (seen === undefined) {
        seen = { createdAtMs: Date.parse(runner.createdAt), preexisting: atMs === this.startedAtMs && runner.phase === 'running' };
        this.seen.set(runner.id, seen);
      }
      const claimedAt = Date.parse(runner.annotations[CLAIMED_AT_ANNOTATION] ?? '');
      if (runner.state !== 'warm' && Number.isFinite(claimedAt)) seen.claimedAtMs ??= claimedAt;
      // A runner claimed between two listings was claimable by its claim at the latest.
      if (seen.readyAtMs === undefined && isClaimable(runner)) seen.readyAtMs = atMs;
      if (seen.readyAtMs === undefined && seen.claimedAtMs !== undefined) seen.readyAtMs = seen.claimedAtMs;
    }
  }

  /** Claims made while watching (epoch ms). */
  claims(): number[] {
    return [...this.seen.values()]
      .map((s) => s.claimedAtMs)
      .filter((at): at is number => at !== undefined && at >= (this.startedAtMs ?? 0))
      .sort((a, b) => a - b);
  }

  /** Runners that became claimable while watching (epoch ms). */
  readyTimes(): number[] {
    return [...this.seen.values()]
      .filter((s) => !s.preexisting && s.readyAtMs !== undefined)
      .map((s) => s.readyAtMs!)
      .sort((a, b) => a - b);
  }

  /** From creation to claimable, for each runner made while watching (ms). */
  startTimes(): number[] {
    return [...this.seen.values()].filter((s) => !s.preexisting && s.readyAtMs !== undefined).map((s) => s.readyAtMs! - s.createdAtMs);
  }
}

/**
 * Each claim matched to the first runner that became claimable at or after it and was not matched
 * yet; `unreplaced` counts claims no runner came for before watching ended.
 */
export function refillTimes(claimsMs: readonly number[], readyMs: readonly number[]): { refillMs: number[]; unreplaced: number } {
  const claims = [...claimsMs].sort((a, b) => a - b);
  const ready = [...readyMs].sort((a, b) => a - b);
  const refillMs: number[] = [];
  let next = 0;
  for (const claim of claims) {
    while (next < ready.length && ready[next]! < claim) next += 1;
    if (next >= ready.length) break;
    refillMs.push(ready[next]! - claim);
    next += 1;
  }
  return { refillMs, unreplaced: claims.length - refillMs.length };
}

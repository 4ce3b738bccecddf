/**
 * Prefetching: images pulled into every new runner's cache before it counts as warm, so a warm
 * activation of them finds every layer cached. Which images (those configured, every hot-tier
 * image and every named server's), when a runner is still prefetching, and the figures kept of
 * it. Pure; the pool carries it out (runner-prefetch.ts calls the agents).
 */
import type { ErrorCode } from '../errors.js';
import type { Runner, RunnerPhase } from '../substrates/types.js';

/**
 * Written on a runner once its prefetch is over (ISO 8601): from then on it is claimable. On the
 * substrate, so every controller replica, and a restarted controller, sees it.
 */
export const PREFETCHED_ANNOTATION = 'mcpwarm.dev/prefetched';

/** Default time a runner's agent has to pull every image before the runner is warm without them. */
export const DEFAULT_PREFETCH_TIMEOUT_MS = 300_000;

/** A runner's phase as the pool sees it: `prefetching` from its agent being ready until its prefetch is over. */
export type PoolRunnerPhase = RunnerPhase | 'prefetching';

/** A runner as the pool reports it (`GET /pool`). */
export type PoolRunner = Omit<Runner, 'phase'> & { phase: PoolRunnerPhase };

/** The images to prefetch: those configured, then the hot tier's and the named servers', each once. */
export function prefetchList(configured: readonly string[], hot: ReadonlyArray<{ image: string }>, servers: ReadonlyArray<{ image: string }>): string[] {
  return [...new Set([...configured, ...hot.map((h) => h.image), ...servers.map((s) => s.image)])];
}

/** A warm runner whose agent is ready and whose prefetch is not over yet. */
export function awaitingPrefetch(runner: Runner): boolean {
  return runner.state === 'warm' && runner.phase === 'running' && runner.endpoint !== undefined && runner.annotations[PREFETCHED_ANNOTATION] === undefined;
}

/** An image a runner's agent could not pull; the runner is warm without it. */
export interface PrefetchFailure {
  image: string;
  code: ErrorCode;
  message: string;
}

/** How one runner's prefetch went. */
export interface PrefetchOutcome {
  /** From the first call to the last answer. */
  seconds: number;
  /** Images the agent already had. */
  cached: string[];
  failures: PrefetchFailure[];
  /**
   * Set when the agent did not answer at all (unreachable, or not within the timeout): the runner
   * becomes warm as it would without prefetching, and its activations meet the agent as they find it.
   */
  unanswered?: string;
}

/** The median of the last `capacity` samples: recent prefetch times, robust to a stray slow one. */
export class RecentMedian {
  private readonly samples: number[] = [];

  constructor(private readonly capacity = 100) {}

  add(value: number): void {
    this.samples.push(value);
    if (this.samples.length > this.capacity) this.samples.shift();
  }

  get count(): number {
    return this.samples.length;
  }

  /** Undefined until a sample came. */
  median(): number | undefined {
    if (this.samples.length === 0) return undefined;
    const sorted = [...this.samples].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  }
}

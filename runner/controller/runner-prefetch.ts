/**
 * Fills new runners' caches: every image of the prefetch list pulled by a runner's agent
 * (`POST /images`, all at once), within one time limit. An image the agent cannot pull is a
 * failure of that image, not of the runner; an agent that does not answer leaves the runner as it
 * would be without prefetching. PrefetchRuns keeps a pool's prefetches under way and their times.
 */
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Runner } from '../substrates/types.js';
import { RecentMedian, type PrefetchFailure, type PrefetchOutcome } from './prefetch.js';
import type { RunnerClient } from './runner-client.js';

/** What the pool needs to prefetch into its runners. */
export interface PoolPrefetch {
  readonly images: readonly string[];
  /** Prefetches every image into `runner`; `signal` gives up (the pool is stopping). Never rejects. */
  run(runner: Runner, signal: AbortSignal): Promise<PrefetchOutcome>;
}

export class RunnerPrefetch implements PoolPrefetch {
  constructor(
    readonly images: readonly string[],
    private readonly runners: RunnerClient,
    private readonly timeoutMs: number,
  ) {}

  async run(runner: Runner, signal: AbortSignal): Promise<PrefetchOutcome> {
    const start = performance.now();
    const answers = await Promise.all(this.images.map(async (image) => ({ image, answer: await this.runners.prefetch(runner, image, this.timeoutMs, signal) })));
    const seconds = (performance.now() - start) / 1000;
    const cached: string[] = [];
    const failures: PrefetchFailure[] = [];
    let unanswered: string | undefined;
    for (const { image, answer } of answers) {
      if (answer.ok) {
        if (answer.value.cached) cached.push(image);
      } else if (answer.answered) {
        failures.push({ image, code: answer.error.code, message: answer.error.message });
      } else {
        unanswered ??= answer.error.message;
      }
    }
    return { seconds, cached, failures, ...(unanswered !== undefined ? { unanswered } : {}) };
  }
}

export interface PrefetchHooks {
  /** Records on the substrate that `runner` was prefetched into; undefined when it is gone. */
  mark(runner: Runner): Promise<Runner | undefined>;
  /** Its prefetch is over and recorded: the runner (as marked) is claimable. */
  done(runner: Runner, outcome: PrefetchOutcome): void;
  /** Recording failed: the runner still awaits its prefetch, and the next start() tries again. */
  failed(runner: Runner, error: unknown): void;
}

/** A pool's prefetches: at most one under way per runner, and the time the last ones took. */
export class PrefetchRuns {
  private readonly running = new Map<string, Promise<void>>();
  private readonly times = new RecentMedian();
  /** Aborted by stop(): prefetches under way give up, and none is recorded after. */
  private readonly halt = new AbortController();

  constructor(
    private readonly prefetch: PoolPrefetch,
    private readonly hooks: PrefetchHooks,
  ) {
    // Every call of every prefetch under way listens on it: runners times images.
    setMaxListeners(0, this.halt.signal);
  }

  /** Starts prefetching into each runner given that has no prefetch under way. */
  start(runners: Iterable<Runner>): void {
    if (this.halt.signal.aborted) return;
    for (const runner of runners) {
      if (this.running.has(runner.id)) continue;
      const done = this.prefetchInto(runner)
        .catch((error: unknown) => this.hooks.failed(runner, error))
        .finally(() => this.running.delete(runner.id));
      this.running.set(runner.id, done);
    }
  }

  private async prefetchInto(runner: Runner): Promise<void> {
    const outcome = await this.prefetch.run(runner, this.halt.signal);
    if (this.halt.signal.aborted) return;
    const marked = await this.hooks.mark(runner);
    // Deleted meanwhile (trimmed as surplus, or gone).
    if (marked === undefined) return;
    this.times.add(outcome.seconds);
    this.hooks.done(marked, outcome);
  }

  /** Gives up the prefetches under way and waits for them to end. */
  async stop(): Promise<void> {
    this.halt.abort();
    await Promise.all(this.running.values());
  }

  status(): PrefetchStatus {
    return { images: this.prefetch.images, prefetching: this.running.size, medianSeconds: this.times.median() ?? null, measured: this.times.count };
  }
}

export interface PrefetchStatus {
  images: readonly string[];
  /** Runners whose prefetch is under way. */
  prefetching: number;
  /** Median prefetch time of the last (up to 100) runners, null before the first. */
  medianSeconds: number | null;
  /** Runners that median is over. */
  measured: number;
}

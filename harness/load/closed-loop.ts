/**
 * The closed-loop driver: `concurrency` workers, each starting its next operation as soon as its
 * previous one ended, for a duration or until `count` operations were started. The offered load
 * follows the server (a slow answer delays the next request), so its latencies describe a fixed
 * number of clients, not a fixed arrival rate: state the concurrency with the figures.
 */
import { performance } from 'node:perf_hooks';
import { McpWarmError } from '../../runner/errors.js';

export interface ClosedLoopOptions<T> {
  concurrency: number;
  /** `index` counts operations across workers in the order they start. */
  operation: (index: number, worker: number) => Promise<T>;
  /** Stop starting operations after this long... */
  durationMs?: number;
  /** ...or after this many were started (at least one of the two). */
  count?: number;
  signal?: AbortSignal;
  onProgress?: (done: number) => void;
}

export interface ClosedLoopOperation<T> {
  index: number;
  worker: number;
  /** ms from the start. */
  startMs: number;
  endedMs: number;
  latencyMs: number;
  ok: boolean;
  value?: T;
  error?: unknown;
}

export interface ClosedLoopResult<T> {
  concurrency: number;
  operations: Array<ClosedLoopOperation<T>>;
  /** From the start until the last operation ended. */
  durationMs: number;
  /** Operations ended per second over durationMs. */
  throughput: number;
}

export async function runClosedLoop<T>(options: ClosedLoopOptions<T>): Promise<ClosedLoopResult<T>> {
  const { concurrency, durationMs, count } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new McpWarmError('USAGE_INVALID', `closed loop: concurrency must be a positive integer (got ${concurrency})`);
  if (durationMs === undefined && count === undefined) throw new McpWarmError('USAGE_INVALID', 'closed loop: give a duration or a count');
  const startedAt = performance.now();
  const since = (): number => performance.now() - startedAt;
  const operations: Array<ClosedLoopOperation<T>> = [];
  let started = 0;
  const mayStart = (): boolean =>
    !options.signal?.aborted && (count === undefined || started < count) && (durationMs === undefined || since() < durationMs);

  const worker = async (id: number): Promise<void> => {
    while (mayStart()) {
      const index = started++;
      const startMs = since();
      let outcome: { ok: boolean; value?: T; error?: unknown };
      try {
        outcome = { ok: true, value: await options.operation(index, id) };
      } catch (error) {
        outcome = { ok: false, error };
      }
      const endedMs = since();
      operations.push({ index, worker: id, startMs, endedMs, latencyMs: endedMs - startMs, ...outcome });
      options.onProgress?.(operations.length);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, id) => worker(id)));
  const total = since();
  return {
    concurrency,
    operations: operations.sort((a, b) => a.index - b.index),
    durationMs: total,
    throughput: total > 0 ? (operations.length * 1000) / total : Number.NaN,
  };
}

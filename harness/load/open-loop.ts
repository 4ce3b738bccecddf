/**
 * The open-loop scheduler: operation i is started at start + offsets[i], whatever happened to the
 * operations before it, and its latency is counted from that planned time (wrk2's correction for
 * coordinated omission: a server that stalls is charged for every request that had to wait).
 *
 * Drift-free: every send time is computed from the start, never from the previous send. The
 * scheduler sleeps with setTimeout until shortly before the next send and covers the last
 * stretch with setImmediate turns (timers fire up to a millisecond or two late, immediates
 * let I/O callbacks run in between); operations that fell due meanwhile are sent at once, each
 * recording its own lag. An operation due while `maxInFlight` are outstanding is dropped:
 * counted, never sent (k6's dropped iterations).
 */
import { performance } from 'node:perf_hooks';

export interface OpenLoopOptions<T> {
  /** Planned send times in ms from the start, ascending (see schedule.ts). */
  offsetsMs: readonly number[];
  /** Any async operation; `index` is its place in the schedule. */
  operation: (index: number) => Promise<T>;
  /** Most operations outstanding at once; one due beyond it is dropped (default: no limit). */
  maxInFlight?: number;
  /** A send whose lag exceeds this counts as late (default 2 ms). */
  lateAfterMs?: number;
  /** Stops sending; what was sent is still awaited and reported. */
  signal?: AbortSignal;
  /** Called after each operation ends, with how many of the schedule have ended or been dropped. */
  onProgress?: (done: number, total: number) => void;
}

export interface TimedOperation<T> {
  index: number;
  /** Planned send time, ms from the start. */
  plannedMs: number;
  /** Actual send time, ms from the start. */
  sentMs: number;
  endedMs: number;
  /** From the planned send time to the end: what a client arriving on schedule waited. */
  latencyMs: number;
  /** From the actual send to the end. */
  serviceMs: number;
  /** How late the send was: sentMs - plannedMs. */
  lagMs: number;
  ok: boolean;
  value?: T;
  error?: unknown;
}

export interface OpenLoopResult<T> {
  /** performance.now() at the schedule's zero. */
  startedAt: number;
  operations: Array<TimedOperation<T>>;
  /** Planned times of the operations dropped because maxInFlight were outstanding. */
  droppedPlannedMs: number[];
  /** Operations not sent because the run was stopped. */
  notSent: number;
  /** Sends later than lateAfterMs. */
  late: number;
  lateAfterMs: number;
  /** Sends per second between the first and the last send. */
  achievedRate: number;
  /** From the start until the last operation ended. */
  durationMs: number;
}

/** How long before a send the scheduler stops sleeping and starts turning the event loop. */
const SPIN_MS = 2;

export function runOpenLoop<T>(options: OpenLoopOptions<T>): Promise<OpenLoopResult<T>> {
  const offsets = options.offsetsMs;
  const maxInFlight = options.maxInFlight ?? Number.POSITIVE_INFINITY;
  const lateAfterMs = options.lateAfterMs ?? 2;
  const operations: Array<TimedOperation<T>> = [];
  const dropped: number[] = [];
  let inFlight = 0;
  let late = 0;
  let next = 0;
  let sendingDone = false;
  let firstSentMs = Number.NaN;
  let lastSentMs = Number.NaN;
  let lastEndedMs = 0;
  const startedAt = performance.now();
  const since = (): number => performance.now() - startedAt;

  return new Promise((resolve) => {
    const finishIfDone = (): void => {
      if (!sendingDone || inFlight > 0) return;
      const sent = operations.length;
      const span = lastSentMs - firstSentMs;
      resolve({
        startedAt,
        operations: operations.sort((a, b) => a.index - b.index),
        droppedPlannedMs: dropped,
        notSent: offsets.length - next,
        late,
        lateAfterMs,
        achievedRate: sent > 1 && span > 0 ? ((sent - 1) * 1000) / span : Number.NaN,
        durationMs: Math.max(lastEndedMs, since()),
      });
    };
    const progress = (): void => options.onProgress?.(operations.length + dropped.length, offsets.length);

    const send = (index: number): void => {
      const plannedMs = offsets[index]!;
      if (inFlight >= maxInFlight) {
        dropped.push(plannedMs);
        progress();
        return;
      }
      const sentMs = since();
      if (Number.isNaN(firstSentMs)) firstSentMs = sentMs;
      lastSentMs = sentMs;
      if (sentMs - plannedMs > lateAfterMs) late += 1;
      inFlight += 1;
      const settle = (ok: boolean, outcome: { value?: T; error?: unknown }): void => {
        const endedMs = since();
        lastEndedMs = Math.max(lastEndedMs, endedMs);
        operations.push({ index, plannedMs, sentMs, endedMs, latencyMs: endedMs - plannedMs, serviceMs: endedMs - sentMs, lagMs: sentMs - plannedMs, ok, ...outcome });
        inFlight -= 1;
        progress();
        finishIfDone();
      };
      let pending: Promise<T>;
      try {
        pending = options.operation(index);
      } catch (error) {
        pending = Promise.reject(error);
      }
      pending.then(
        (value) => settle(true, { value }),
        (error: unknown) => settle(false, { error }),
      );
    };

    let timer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      clearTimeout(timer);
      sendingDone = true;
      finishIfDone();
    };
    options.signal?.addEventListener('abort', stop, { once: true });
    const tick = (): void => {
      if (sendingDone) return;
      if (options.signal?.aborted) return stop();
      while (next < offsets.length && offsets[next]! <= since()) send(next++);
      if (next >= offsets.length) {
        options.signal?.removeEventListener('abort', stop);
        return stop();
      }
      const waitMs = offsets[next]! - since();
      if (waitMs > SPIN_MS) timer = setTimeout(tick, waitMs - SPIN_MS);
      else setImmediate(tick);
    };
    tick();
  });
}

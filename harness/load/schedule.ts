/**
 * Open-loop send schedules, fixed before a run starts: planned offsets in ms from the start,
 * ascending. Operation i is sent at start + offsets[i] and charged from that planned time, so a
 * stalled server cannot slow the offered load down (no coordinated omission).
 */
import { McpWarmError } from '../../runner/errors.js';
import { poissonArrivals } from '../measure/arrivals.js';

export type ArrivalPattern =
  /** Operation i at i x (1000 / rate) ms. */
  | { pattern: 'constant'; ratePerSecond: number }
  /** Exponential gaps with mean 1000 / rate ms from a seeded generator. */
  | { pattern: 'poisson'; ratePerSecond: number; seed: number }
  /** `size` operations at once, every `everyMs`. */
  | { pattern: 'burst'; size: number; everyMs: number }
  /** Offsets replayed as they were recorded (ms from the start). */
  | { pattern: 'trace'; offsetsMs: readonly number[] };

/** How much of a schedule to make: everything before `durationMs`, or the first `count` operations. */
export type ScheduleLength = { durationMs: number } | { count: number };

function invalid(message: string): never {
  throw new McpWarmError('USAGE_INVALID', `schedule: ${message}`);
}

function positive(value: number, what: string): void {
  if (!(value > 0) || !Number.isFinite(value)) invalid(`${what} must be a positive number (got ${value})`);
}

/** Offsets of a pattern until `length` is reached. */
export function scheduleOffsets(arrivals: ArrivalPattern, length: ScheduleLength): number[] {
  const byCount = 'count' in length;
  const limit = byCount ? length.count : length.durationMs;
  if (!(limit >= 0) || !Number.isFinite(limit) || (byCount && !Number.isInteger(limit))) invalid(`length must be a non-negative ${byCount ? 'integer count' : 'duration'} (got ${limit})`);
  const take = (next: (i: number) => number): number[] => {
    const offsets: number[] = [];
    for (let i = 0; byCount ? i < limit : true; i += 1) {
      const at = next(i);
      if (!byCount && at >= limit) break;
      offsets.push(at);
    }
    return offsets;
  };
  switch (arrivals.pattern) {
    case 'constant': {
      positive(arrivals.ratePerSecond, 'rate');
      const periodMs = 1000 / arrivals.ratePerSecond;
      return take((i) => i * periodMs);
    }
    case 'poisson': {
      positive(arrivals.ratePerSecond, 'rate');
      if (!byCount) return poissonArrivals({ ratePerSecond: arrivals.ratePerSecond, durationMs: limit, seed: arrivals.seed });
      // A count: draw over a window long enough for it (mean + 10 standard deviations), then cut.
      const windowMs = ((limit + 10 * Math.sqrt(limit) + 10) / arrivals.ratePerSecond) * 1000;
      return poissonArrivals({ ratePerSecond: arrivals.ratePerSecond, durationMs: windowMs, seed: arrivals.seed }).slice(0, limit);
    }
    case 'burst': {
      positive(arrivals.size, 'burst size');
      positive(arrivals.everyMs, 'burst interval');
      if (!Number.isInteger(arrivals.size)) invalid(`burst size must be an integer (got ${arrivals.size})`);
      return take((i) => Math.floor(i / arrivals.size) * arrivals.everyMs);
    }
    case 'trace': {
      const offsets = arrivals.offsetsMs;
      offsets.forEach((at, i) => {
        if (!(at >= 0) || !Number.isFinite(at)) invalid(`trace offset ${i + 1} is not a non-negative number (${at})`);
        if (i > 0 && at < offsets[i - 1]!) invalid(`trace offsets must ascend (offset ${i + 1}: ${at} after ${offsets[i - 1]})`);
      });
      return byCount ? offsets.slice(0, limit) : offsets.filter((at) => at < limit);
    }
  }
}

/** Reads a recorded trace: one offset in ms per line (blank lines and `#` comments skipped), or a JSON array. */
export function parseTrace(text: string): number[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    const parsed: unknown = JSON.parse(trimmed);
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'number')) invalid('a JSON trace must be an array of numbers');
    return parsed as number[];
  }
  const offsets: number[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const value = Number(line);
    if (!Number.isFinite(value)) invalid(`trace line ${i + 1} is not a number: ${JSON.stringify(line)}`);
    offsets.push(value);
  });
  return offsets;
}

/** Mean operations per second a pattern offers (a trace: its count over its span). */
export function offeredRate(arrivals: ArrivalPattern): number {
  switch (arrivals.pattern) {
    case 'constant':
    case 'poisson':
      return arrivals.ratePerSecond;
    case 'burst':
      return (arrivals.size * 1000) / arrivals.everyMs;
    case 'trace': {
      const span = (arrivals.offsetsMs[arrivals.offsetsMs.length - 1] ?? 0) - (arrivals.offsetsMs[0] ?? 0);
      return span > 0 ? ((arrivals.offsetsMs.length - 1) * 1000) / span : 0;
    }
  }
}

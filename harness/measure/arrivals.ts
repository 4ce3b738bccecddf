/**
 * Open-loop arrival schedules. A Poisson process (exponential gaps between arrivals) is how
 * independent clients arrive; the schedule is seeded so two runs offer the same load, and it is
 * fixed before the run starts, so each request is charged from its planned time however late the
 * load generator sends it (no coordinated omission).
 */
import { McpWarmError } from '../../runner/errors.js';
import { seededRandom } from './prng.js';

export interface PoissonOptions {
  /** Mean arrivals per second. */
  ratePerSecond: number;
  durationMs: number;
  seed: number;
}

/** Planned arrival times, in ms from the start, ascending, all before `durationMs`. */
export function poissonArrivals(options: PoissonOptions): number[] {
  const { ratePerSecond, durationMs, seed } = options;
  if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond) || !(durationMs >= 0) || !Number.isFinite(durationMs)) {
    throw new McpWarmError('USAGE_INVALID', `an arrival schedule needs a positive rate and a duration (got rate ${ratePerSecond}/s, ${durationMs} ms)`);
  }
  const random = seededRandom(seed);
  const meanGapMs = 1000 / ratePerSecond;
  const arrivals: number[] = [];
  // Inverse transform: 1 - u is in (0, 1], so the logarithm is finite.
  for (let at = -Math.log(1 - random()) * meanGapMs; at < durationMs; at += -Math.log(1 - random()) * meanGapMs) arrivals.push(at);
  return arrivals;
}

/**
 * The latency a gateway adds to a call, purely: the difference between the median through the
 * gateway and the median of calling the server directly, with a bootstrap confidence interval.
 * The two sides are sampled in the same rounds (one call each, in random order), so rounds are
 * resampled whole: noise that hit both sides of a round stays paired.
 */
import { quantile } from '../measure/stats.js';
import { seededRandom } from '../measure/prng.js';

export interface DifferenceInterval {
  /** Median through the gateway minus the direct median, from the samples themselves. */
  differenceMs: number;
  low: number;
  high: number;
  confidence: number;
}

export interface PairedBootstrapOptions {
  resamples?: number;
  confidence?: number;
  seed?: number;
}

/** Rounds in the order of their value on one side. */
function roundsByValue(values: readonly number[]): Uint32Array {
  return Uint32Array.from(values.keys()).sort((a, b) => values[a]! - values[b]!);
}

/**
 * The median of a resample given as how often each round was drawn (`counts`), walking the
 * rounds in value order instead of sorting the resample.
 */
function resampledMedian(values: readonly number[], order: Uint32Array, counts: Uint32Array): number {
  const position = (order.length - 1) / 2;
  const lowerRank = Math.floor(position);
  let seen = 0;
  let low = Number.NaN;
  for (const round of order) {
    seen += counts[round]!;
    if (Number.isNaN(low) && seen > lowerRank) low = values[round]!;
    if (seen > lowerRank + 1) return low + (values[round]! - low) * (position - lowerRank);
  }
  return low;
}

/** `direct[i]` and `via[i]` were measured in round i. */
export function addedMedian(direct: readonly number[], via: readonly number[], options: PairedBootstrapOptions = {}): DifferenceInterval {
  if (direct.length === 0 || direct.length !== via.length) throw new RangeError(`paired samples expected (got ${direct.length} and ${via.length})`);
  const resamples = options.resamples ?? 2000;
  const confidence = options.confidence ?? 0.95;
  const random = seededRandom(options.seed ?? 1);
  const n = direct.length;
  const directOrder = roundsByValue(direct);
  const viaOrder = roundsByValue(via);
  const counts = new Uint32Array(n);
  const differences: number[] = [];
  for (let r = 0; r < resamples; r += 1) {
    counts.fill(0);
    for (let i = 0; i < n; i += 1) counts[Math.floor(random() * n)]! += 1;
    differences.push(resampledMedian(via, viaOrder, counts) - resampledMedian(direct, directOrder, counts));
  }
  differences.sort((x, y) => x - y);
  const tail = (1 - confidence) / 2;
  const median = (values: readonly number[]) => quantile([...values].sort((x, y) => x - y), 0.5);
  return {
    differenceMs: median(via) - median(direct),
    low: quantile(differences, tail),
    high: quantile(differences, 1 - tail),
    confidence,
  };
}

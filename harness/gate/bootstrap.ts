/**
 * Bootstrap confidence interval of the ratio of a quantile between two samples (candidate over
 * baseline), computed on the log scale (ratios are symmetric there) with the percentile method.
 * Each side is resampled on its own: the sides need not have the same size or be paired.
 */
import { quantile } from '../measure/stats.js';
import { seededRandom } from '../measure/prng.js';

export interface RatioInterval {
  /** Candidate quantile over baseline quantile, from the samples themselves. */
  ratio: number;
  low: number;
  high: number;
  confidence: number;
}

export interface BootstrapOptions {
  /** The quantile compared: 0.5 for medians. */
  q: number;
  resamples?: number;
  confidence?: number;
  seed?: number;
}

export const DEFAULT_RESAMPLES = 2000;
export const DEFAULT_CONFIDENCE = 0.95;

/**
 * The quantile of one resample (drawn with replacement) of `sorted`, found by counting how often
 * each order statistic was drawn instead of sorting the resample.
 */
function resampledQuantile(sorted: readonly number[], q: number, random: () => number, counts: Uint32Array): number {
  const n = sorted.length;
  counts.fill(0);
  for (let i = 0; i < n; i += 1) counts[Math.floor(random() * n)]! += 1;
  const position = (n - 1) * q;
  const lowerRank = Math.floor(position);
  let seen = 0;
  let low = Number.NaN;
  for (let i = 0; i < n; i += 1) {
    seen += counts[i]!;
    if (Number.isNaN(low) && seen > lowerRank) low = sorted[i]!;
    if (seen > lowerRank + 1) return low + (sorted[i]! - low) * (position - lowerRank);
  }
  return low;
}

export function bootstrapQuantileRatio(baseline: readonly number[], candidate: readonly number[], options: BootstrapOptions): RatioInterval {
  if (baseline.length === 0 || candidate.length === 0) throw new RangeError('bootstrap needs samples on both sides');
  const resamples = options.resamples ?? DEFAULT_RESAMPLES;
  const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
  const random = seededRandom(options.seed ?? 1);
  const base = [...baseline].sort((a, b) => a - b);
  const cand = [...candidate].sort((a, b) => a - b);
  const baseCounts = new Uint32Array(base.length);
  const candCounts = new Uint32Array(cand.length);
  const logRatios: number[] = [];
  for (let r = 0; r < resamples; r += 1) {
    logRatios.push(Math.log(resampledQuantile(cand, options.q, random, candCounts) / resampledQuantile(base, options.q, random, baseCounts)));
  }
  logRatios.sort((a, b) => a - b);
  const tail = (1 - confidence) / 2;
  return {
    ratio: quantile(cand, options.q) / quantile(base, options.q),
    low: Math.exp(quantile(logRatios, tail)),
    high: Math.exp(quantile(logRatios, 1 - tail)),
    confidence,
  };
}

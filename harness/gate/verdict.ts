/**
 * The verdict on one metric. A relative change counts only when it is both significant (the
 * confidence interval of the ratio excludes 1) and larger than the tolerance (the point estimate
 * is beyond it): the tolerance is the size of change that A/A runs on this machine show as noise.
 */
import type { RatioInterval } from './bootstrap.js';

export type Verdict = 'regression' | 'improvement' | 'no change' | 'inconclusive' | 'within limit';

/** `tolerance` 0.10 means slower by more than 10% (or faster by more than 1/1.1) counts. */
export function ratioVerdict(interval: RatioInterval, tolerance: number): Verdict {
  const slower = 1 + tolerance;
  const faster = 1 / (1 + tolerance);
  if (interval.low > 1 && interval.ratio > slower) return 'regression';
  if (interval.high < 1 && interval.ratio < faster) return 'improvement';
  // The interval rules out any change beyond the tolerance.
  if (interval.low >= faster && interval.high <= slower) return 'no change';
  return 'inconclusive';
}

/** An absolute limit (used for p99, which small samples cannot compare relatively). */
export function limitVerdict(valueMs: number, maxMs: number): Verdict {
  return valueMs > maxMs ? 'regression' : 'within limit';
}

import { describe, expect, it } from 'vitest';
import { seededRandom } from '../measure/prng.js';
import { minSamplesForQuantileCi, quantileCi } from './quantile-ci.js';

describe('minSamplesForQuantileCi', () => {
  it('gives the known distribution-free limits at 95%', () => {
    expect(minSamplesForQuantileCi(0.5)).toBe(6);
    expect(minSamplesForQuantileCi(0.9)).toBe(29);
    expect(minSamplesForQuantileCi(0.95)).toBe(59);
    expect(minSamplesForQuantileCi(0.99)).toBe(299);
  });
});

describe('quantileCi', () => {
  const ascending = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

  it('has no interval below the limit and the extremes at it', () => {
    expect(quantileCi(ascending(5), 0.5)).toBeUndefined();
    expect(quantileCi(ascending(28), 0.9)).toBeUndefined();
    // At n = 29 the upper tail is the maximum (it misses 0.9^29 = 4.7%); the lower one gets what is left of 5%.
    const p90 = quantileCi(ascending(29), 0.9)!;
    expect(p90).toMatchObject({ low: 21, high: 29 });
    expect(p90.coverage).toBeGreaterThanOrEqual(0.95);
    expect(p90.coverage).toBeLessThan(1 - 0.9 ** 29);
    expect(quantileCi(ascending(6), 0.5)).toMatchObject({ low: 1, high: 6 });
  });

  it('matches the textbook interval for the median of 100 (order statistics 40 and 61)', () => {
    const interval = quantileCi(ascending(100), 0.5)!;
    expect(interval).toMatchObject({ low: 40, high: 61 });
    expect(interval.coverage).toBeGreaterThanOrEqual(0.95);
  });

  it('covers the true quantile of an exponential distribution in about 95% of samples', () => {
    const random = seededRandom(42);
    const trueP90 = -Math.log(0.1);
    let covered = 0;
    const trials = 2000;
    for (let t = 0; t < trials; t += 1) {
      const sample = Array.from({ length: 60 }, () => -Math.log(1 - random())).sort((a, b) => a - b);
      const interval = quantileCi(sample, 0.9)!;
      if (interval.low <= trueP90 && trueP90 <= interval.high) covered += 1;
    }
    // Exact coverage is at least 95% by construction (order statistics are discrete, so a bit above).
    expect(covered / trials).toBeGreaterThan(0.94);
    expect(covered / trials).toBeLessThan(0.995);
  });
});

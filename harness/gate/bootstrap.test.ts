import { describe, expect, it } from 'vitest';
import { bootstrapQuantileRatio } from './bootstrap.js';
import { seededRandom } from '../measure/prng.js';

/** Lognormal samples (latencies are close to lognormal) from a seeded source, by Box-Muller. */
function lognormal(random: () => number, n: number, median: number, sigma: number): number[] {
  return Array.from({ length: n }, () => median * Math.exp(sigma * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())));
}

describe('bootstrapQuantileRatio', () => {
  it('is reproducible with a seed', () => {
    const random = seededRandom(1);
    const a = lognormal(random, 30, 100, 0.2);
    const b = lognormal(random, 30, 110, 0.2);
    expect(bootstrapQuantileRatio(a, b, { q: 0.5, seed: 7 })).toEqual(bootstrapQuantileRatio(a, b, { q: 0.5, seed: 7 }));
  });

  it('estimates the ratio of medians from the samples and brackets it', () => {
    const a = [10, 11, 12, 13, 14];
    const b = a.map((x) => x * 1.5);
    const interval = bootstrapQuantileRatio(a, b, { q: 0.5 });
    expect(interval.ratio).toBeCloseTo(1.5, 10);
    expect(interval.low).toBeLessThanOrEqual(interval.ratio);
    expect(interval.high).toBeGreaterThanOrEqual(interval.ratio);
  });

  it('covers the true ratio of medians of lognormal samples in about 95% of seeded trials', () => {
    const random = seededRandom(2024);
    const trueRatio = 1.2;
    const trials = 300;
    let covered = 0;
    for (let t = 0; t < trials; t += 1) {
      const a = lognormal(random, 40, 100, 0.25);
      const b = lognormal(random, 40, 100 * trueRatio, 0.25);
      const interval = bootstrapQuantileRatio(a, b, { q: 0.5, resamples: 1000, seed: t });
      if (interval.low <= trueRatio && trueRatio <= interval.high) covered += 1;
    }
    expect(covered / trials).toBeGreaterThan(0.9);
    expect(covered / trials).toBeLessThan(0.99);
  });

  it('narrows as samples grow', () => {
    const random = seededRandom(5);
    const width = (n: number) => {
      const interval = bootstrapQuantileRatio(lognormal(random, n, 100, 0.3), lognormal(random, n, 100, 0.3), { q: 0.5 });
      return Math.log(interval.high / interval.low);
    };
    expect(width(400)).toBeLessThan(width(25) / 2);
  });
});

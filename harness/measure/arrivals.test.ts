import { describe, expect, it } from 'vitest';
import { poissonArrivals } from './arrivals.js';
import { seededRandom } from './prng.js';

describe('seededRandom', () => {
  it('repeats for a seed, differs between seeds, stays in [0, 1)', () => {
    const a = Array.from({ length: 1000 }, seededRandom(7));
    expect(Array.from({ length: 1000 }, seededRandom(7))).toEqual(a);
    expect(Array.from({ length: 1000 }, seededRandom(8))).not.toEqual(a);
    expect(a.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});

describe('poissonArrivals', () => {
  const ratePerSecond = 2;
  const durationMs = 100_000_000;
  const arrivals = poissonArrivals({ ratePerSecond, durationMs, seed: 42 });
  const gaps = arrivals.map((at, i) => at - (i === 0 ? 0 : arrivals[i - 1]!));
  const meanGapMs = 1000 / ratePerSecond;

  it('is ascending and ends before the duration', () => {
    expect(gaps.every((gap) => gap >= 0)).toBe(true);
    expect(arrivals[arrivals.length - 1]!).toBeLessThan(durationMs);
  });

  it('arrives at the mean rate', () => {
    // About 200,000 arrivals: the count's standard deviation is about 0.22 %.
    expect(Math.abs(arrivals.length / (durationMs / 1000) / ratePerSecond - 1)).toBeLessThan(0.01);
  });

  it('has exponential gaps: mean, coefficient of variation 1, P(gap > mean) = 1/e, and the whole distribution', () => {
    const mean = gaps.reduce((sum, gap) => sum + gap, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((sum, gap) => sum + (gap - mean) ** 2, 0) / gaps.length);
    expect(Math.abs(mean / meanGapMs - 1)).toBeLessThan(0.01);
    expect(Math.abs(sd / mean - 1)).toBeLessThan(0.01);
    expect(Math.abs(gaps.filter((gap) => gap > meanGapMs).length / gaps.length - Math.exp(-1))).toBeLessThan(0.005);
    // Kolmogorov-Smirnov distance to the exponential CDF (critical value at 1 % about 1.63 / sqrt(n) = 0.0036).
    const sorted = [...gaps].sort((a, b) => a - b);
    let distance = 0;
    sorted.forEach((gap, i) => {
      const cdf = 1 - Math.exp(-gap / meanGapMs);
      distance = Math.max(distance, Math.abs(cdf - i / sorted.length), Math.abs(cdf - (i + 1) / sorted.length));
    });
    expect(distance).toBeLessThan(0.0036);
  });

  it('is the same schedule for the same seed and another for another seed', () => {
    const short = { ratePerSecond: 2, durationMs: 60_000 };
    expect(poissonArrivals({ ...short, seed: 1 })).toEqual(poissonArrivals({ ...short, seed: 1 }));
    expect(poissonArrivals({ ...short, seed: 1 })).not.toEqual(poissonArrivals({ ...short, seed: 2 }));
  });

  it('refuses a rate or duration that is not a positive number', () => {
    expect(() => poissonArrivals({ ratePerSecond: 0, durationMs: 1000, seed: 1 })).toThrow(expect.objectContaining({ code: 'USAGE_INVALID' }));
    expect(() => poissonArrivals({ ratePerSecond: Number.NaN, durationMs: 1000, seed: 1 })).toThrow(expect.objectContaining({ code: 'USAGE_INVALID' }));
    expect(() => poissonArrivals({ ratePerSecond: 2, durationMs: -1, seed: 1 })).toThrow(expect.objectContaining({ code: 'USAGE_INVALID' }));
  });
});

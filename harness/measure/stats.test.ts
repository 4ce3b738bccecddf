import { describe, expect, it } from 'vitest';
import { quantile, shuffled, summarize } from './stats.js';

describe('quantile', () => {
  it('interpolates between order statistics', () => {
    const sorted = [1, 2, 3, 4];
    expect(quantile(sorted, 0.5)).toBe(2.5);
    expect(quantile(sorted, 0)).toBe(1);
    expect(quantile(sorted, 1)).toBe(4);
    expect(quantile(sorted, 0.25)).toBeCloseTo(1.75);
  });

  it('is NaN for no samples', () => {
    expect(quantile([], 0.5)).toBeNaN();
  });
});

describe('summarize', () => {
  it('matches the known quantiles of 1..101', () => {
    const samples = Array.from({ length: 101 }, (_, i) => 101 - i);
    const summary = summarize(samples);
    expect(summary).toMatchObject({ n: 101, min: 1, p50: 51, p90: 91, p99: 100, max: 101, mean: 51 });
  });
});

describe('shuffled', () => {
  it('permutes without losing items and leaves the input alone', () => {
    const input = [1, 2, 3, 4, 5, 6];
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const output = shuffled(input, random);
    expect([...output].sort()).toEqual(input);
    expect(output).not.toEqual(input);
    expect(input).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

import { describe, expect, it } from 'vitest';
import { seededRandom } from '../measure/prng.js';
import { addedMedian } from './strategies-added-latency.js';

describe('addedMedian', () => {
  it('finds a constant added delay, with an interval around it', () => {
    const random = seededRandom(3);
    const direct = Array.from({ length: 400 }, () => 0.2 + random() * 0.1);
    const via = direct.map((ms) => ms + 0.4 + random() * 0.02);
    const interval = addedMedian(direct, via);
    expect(interval.differenceMs).toBeGreaterThan(0.4);
    expect(interval.differenceMs).toBeLessThan(0.42);
    expect(interval.low).toBeLessThanOrEqual(interval.differenceMs);
    expect(interval.high).toBeGreaterThanOrEqual(interval.differenceMs);
    expect(interval.high - interval.low).toBeLessThan(0.05);
    expect(interval.confidence).toBe(0.95);
  });

  it('is reproducible for a seed and spans zero when nothing is added', () => {
    const random = seededRandom(9);
    const direct = Array.from({ length: 300 }, () => 1 + random());
    // The same values in other rounds.
    const via = [...direct].reverse();
    const a = addedMedian(direct, via, { seed: 5 });
    expect(a.differenceMs).toBe(0);
    expect(addedMedian(direct, via, { seed: 5 })).toEqual(a);
    expect(a.low).toBeLessThan(0);
    expect(a.high).toBeGreaterThan(0);
  });

  it('refuses unpaired samples', () => {
    expect(() => addedMedian([1, 2], [1])).toThrow(RangeError);
    expect(() => addedMedian([], [])).toThrow(RangeError);
  });
});

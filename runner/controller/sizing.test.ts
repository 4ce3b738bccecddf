import { describe, expect, it } from 'vitest';
import { updateRate, warmTarget, type SizingConfig } from './sizing.js';

const config: SizingConfig = { min: 2, max: 20, burstMargin: 1, halfLifeSeconds: 10 };

describe('warmTarget', () => {
  it('covers rate x refill time plus the burst margin', () => {
    // 50 activations/s with 0.3 s refill: 15 in flight, plus 1.
    expect(warmTarget(50, 0.3, config)).toBe(16);
    expect(warmTarget(2, 1.5, config)).toBe(4);
  });

  it('returns to min once the decaying rate leaves a negligible demand', () => {
    const small: SizingConfig = { min: 1, max: 6, burstMargin: 1, halfLifeSeconds: 2 };
    expect(warmTarget(0.06, 2, small)).toBe(2);
    expect(warmTarget(0.04, 2, small)).toBe(1);
    let estimate = updateRate({ rate: 0, atMs: 0 }, 20, 1000, small.halfLifeSeconds);
    expect(warmTarget(estimate.rate, 2, small)).toBe(6);
    for (let second = 2; warmTarget(estimate.rate, 2, small) > 1; second += 1) {
      estimate = updateRate(estimate, 0, second * 1000, small.halfLifeSeconds);
      expect(second).toBeLessThan(30);
    }
  });

  it('stays within min and max', () => {
    expect(warmTarget(0, 1, config)).toBe(2);
    expect(warmTarget(1000, 1, config)).toBe(20);
  });
});

describe('updateRate', () => {
  it('converges to a steady arrival rate', () => {
    let estimate = { rate: 0, atMs: 0 };
    for (let second = 1; second <= 120; second += 1) estimate = updateRate(estimate, 5, second * 1000, config.halfLifeSeconds);
    expect(estimate.rate).toBeCloseTo(5, 1);
  });

  it('halves the weight of the past every half-life', () => {
    const estimate = updateRate({ rate: 10, atMs: 0 }, 0, 10_000, 10);
    expect(estimate.rate).toBeCloseTo(5, 5);
  });

  it('ignores an update with no time elapsed', () => {
    const previous = { rate: 3, atMs: 1000 };
    expect(updateRate(previous, 7, 1000, 10)).toBe(previous);
  });
});

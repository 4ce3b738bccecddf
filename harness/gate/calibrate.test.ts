import { describe, expect, it } from 'vitest';
import { delayForPair } from './calibrate.js';

describe('delayForPair', () => {
  it('takes milliseconds as they are, and a share of the p50 the A/A pair measured', () => {
    expect(delayForPair({ ms: 15 }, [])).toBe(15);
    // p50 of [60, 70, 80, 90, 100, 500] is 85: the outlier does not move it.
    expect(delayForPair({ fraction: 0.2 }, [90, 60, 500, 80, 70, 100])).toBeCloseTo(17, 10);
  });

  it('refuses a share with no A/A samples to take it of', () => {
    expect(() => delayForPair({ fraction: 0.2 }, [])).toThrow(RangeError);
  });
});

import { describe, expect, it } from 'vitest';
import { limitVerdict, ratioVerdict } from './verdict.js';

const interval = (ratio: number, low: number, high: number) => ({ ratio, low, high, confidence: 0.95 });

describe('ratioVerdict', () => {
  it('calls a significant change beyond the tolerance a regression or an improvement', () => {
    expect(ratioVerdict(interval(1.2, 1.12, 1.28), 0.1)).toBe('regression');
    expect(ratioVerdict(interval(0.8, 0.75, 0.86), 0.1)).toBe('improvement');
  });

  it('needs both significance and size', () => {
    // Significant but inside the tolerance, with an interval reaching past it.
    expect(ratioVerdict(interval(1.08, 1.02, 1.15), 0.1)).toBe('inconclusive');
    // Beyond the tolerance but not significant.
    expect(ratioVerdict(interval(1.15, 0.95, 1.4), 0.1)).toBe('inconclusive');
  });

  it('calls an interval inside the tolerance no change, even when significant', () => {
    expect(ratioVerdict(interval(1.0, 0.97, 1.03), 0.1)).toBe('no change');
    expect(ratioVerdict(interval(1.05, 1.02, 1.08), 0.1)).toBe('no change');
  });
});

describe('limitVerdict', () => {
  it('fails only above the limit', () => {
    expect(limitVerdict(150.1, 150)).toBe('regression');
    expect(limitVerdict(150, 150)).toBe('within limit');
  });
});

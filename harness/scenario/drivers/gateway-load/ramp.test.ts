import { describe, expect, it } from 'vitest';
import type { TimedOperation } from '../../../load/open-loop.js';
import { parseThreshold, type Threshold } from '../../thresholds.js';
import { judgeStep } from './ramp.js';

const until = ['p99 < 500ms', 'errors < 1%'].map((t) => parseThreshold(t) as Threshold);

function ops(latencies: number[], failed = 0): Array<TimedOperation<unknown>> {
  return [
    ...latencies.map((latencyMs, i) => ({ index: i, plannedMs: 1000 + i, sentMs: 1000 + i, endedMs: 1000 + i + latencyMs, latencyMs, serviceMs: latencyMs, lagMs: 0, ok: true })),
    ...Array.from({ length: failed }, (_, i) => ({ index: 1000 + i, plannedMs: 1000, sentMs: 1000, endedMs: 1001, latencyMs: 1, serviceMs: 1, lagMs: 0, ok: false })),
  ];
}

describe('judgeStep', () => {
  it('sustains a step whose p99 and error rate are within the criteria', () => {
    const verdict = judgeStep(100, ops(Array(200).fill(20)), [], 500, until);
    expect(verdict.sustained).toBe(true);
    expect(verdict.figures.latencyMs.p99).toBe(20);
    expect(verdict.figures.errorRate).toBe(0);
  });

  it('fails a step on p99, on errors, and on operations dropped for too many in flight', () => {
    expect(judgeStep(100, ops([...Array(97).fill(20), 900, 900, 900]), [], 500, until).sustained).toBe(false);
    expect(judgeStep(100, ops(Array(98).fill(20), 2), [], 500, until).sustained).toBe(false);
    const dropped = judgeStep(100, ops(Array(98).fill(20)), [1500, 1600], 500, until);
    expect(dropped.figures.errorRate).toBeCloseTo(0.02);
    expect(dropped.sustained).toBe(false);
  });

  it('leaves the warm-up out', () => {
    const warm = ops(Array(100).fill(20));
    warm.push({ index: 999, plannedMs: 10, sentMs: 10, endedMs: 5000, latencyMs: 4990, serviceMs: 4990, lagMs: 0, ok: false });
    expect(judgeStep(100, warm, [100], 500, until).sustained).toBe(true);
  });

  it('does not sustain a step with nothing measured', () => {
    expect(judgeStep(100, [], [], 500, until).sustained).toBe(false);
  });
});

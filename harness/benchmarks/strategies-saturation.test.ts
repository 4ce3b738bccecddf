import { describe, expect, it } from 'vitest';
import { geometricLadder, judgeStep, nextRate, ratioBound, saturated, slope, stepDurationMs, stepFigures, stepSchedule, sustainableRate, worthRetrying, type StepOutcome, type TriedRate } from './strategies-saturation.js';

const criteria = { maxErrorRate: 0.01, p99BoundMs: 50, minAchievedShare: 0.9 };

/** `n` requests planned evenly over `durationMs`, each answered `latencyMs` later. */
function answered(n: number, durationMs: number, latencyMs: number): StepOutcome[] {
  return Array.from({ length: n }, (_, i) => ({ ok: true as const, plannedMs: (i * durationMs) / n, endedMs: (i * durationMs) / n + latencyMs, latencyMs }));
}

const failed = (error: string, plannedMs = 500): StepOutcome => ({ ok: false, plannedMs, error });

/** A gateway that falls behind: request i answered at i / `answersPerSecond`, however early it was planned. */
function behind(n: number, durationMs: number, answersPerSecond: number): StepOutcome[] {
  return Array.from({ length: n }, (_, i) => {
    const plannedMs = (i * durationMs) / n;
    const endedMs = Math.max(plannedMs + 1, ((i + 1) * 1000) / answersPerSecond);
    return { ok: true as const, plannedMs, endedMs, latencyMs: endedMs - plannedMs };
  });
}

describe('stepFigures', () => {
  it('counts answers, errors by kind and the answers per second', () => {
    const outcomes: StepOutcome[] = [...answered(98, 980, 5), failed('HTTP 503', 980), failed('DROPPED', 990)];
    const figures = stepFigures(100, 1000, outcomes);
    expect(figures).toMatchObject({ offeredRate: 100, scheduled: 100, scheduledRate: 100, answered: 98, errors: { 'HTTP 503': 1, DROPPED: 1 }, errorRate: 0.02 });
    expect(figures.achievedRate).toBeCloseTo(98, 5);
    expect(figures.latencyMs.p50).toBe(5);
  });

  it('keeps up however long each answer takes, and falls behind when answers come later and later', () => {
    // A 100 ms tool in a short step: every answer late by the same amount is keeping up.
    expect(stepFigures(100, 1000, answered(100, 1000, 100)).achievedRate).toBeCloseTo(100, 5);
    // 100 requests in 1 s answered at 50/s: latency grows by 1 ms per ms.
    expect(stepFigures(100, 1000, behind(100, 1000, 50)).achievedRate).toBeCloseTo(50, 0);
    // A stall near the end (40 ms on the last 5 requests) barely counts.
    const stalled = answered(100, 1000, 5).map((o, i) => (o.ok && i >= 95 ? { ...o, latencyMs: 45, endedMs: o.endedMs + 40 } : o));
    expect(stepFigures(100, 1000, stalled).achievedRate).toBeGreaterThan(95);
  });

  it('does not count a burst of late answers as a high rate', () => {
    const burst: StepOutcome[] = [0, 1, 2].map((i) => ({ ok: true, plannedMs: i * 100, endedMs: 2000 + i, latencyMs: 2000 + i - i * 100 }));
    expect(stepFigures(25, 1000, burst).achievedRate).toBeLessThanOrEqual(3);
  });
});

describe('slope', () => {
  it('fits a line, and is 0 without a spread of x', () => {
    expect(slope([[0, 1], [1, 3], [2, 5]])).toBeCloseTo(2, 10);
    expect(slope([[5, 1], [5, 9]])).toBe(0);
    expect(slope([[1, 1]])).toBe(0);
  });
});

describe('worthRetrying', () => {
  it('retries a slow step, not one where a tenth of the requests failed', () => {
    expect(worthRetrying(stepFigures(100, 1000, answered(100, 1000, 80)))).toBe(true);
    expect(worthRetrying(stepFigures(100, 1000, [...answered(80, 1000, 5), ...Array.from({ length: 20 }, () => failed('ABANDONED'))]))).toBe(false);
  });
});

describe('judgeStep', () => {
  it('sustains a step within every criterion', () => {
    expect(judgeStep(stepFigures(100, 1000, answered(100, 1000, 5)), criteria)).toEqual({ sustained: true, reasons: [] });
  });

  it('names each criterion missed', () => {
    const errors = stepFigures(100, 1000, [...answered(97, 1000, 5), ...Array.from({ length: 3 }, () => failed('TIMEOUT'))]);
    expect(judgeStep(errors, criteria).reasons).toEqual(['errors 3.0% > 1.0%']);
    const slow = stepFigures(100, 1000, answered(100, 1000, 80));
    expect(judgeStep(slow, criteria).reasons).toEqual(['p99 80.0 ms > 50 ms']);
    // Answers come out at 60/s while requests go in at 100/s (within a lax p99 bound, over a short step).
    const late = stepFigures(100, 100, behind(10, 100, 60));
    expect(judgeStep(late, { ...criteria, p99BoundMs: 1000 })).toMatchObject({ sustained: false, reasons: [expect.stringMatching(/^\d+\.\d answers\/s < 90% of the 100\.0\/s scheduled$/)] });
  });

  it('fails a step with no answer or nothing scheduled', () => {
    expect(judgeStep(stepFigures(10, 1000, [failed('HTTP 503')]), criteria).reasons).toContain('no request was answered');
    expect(judgeStep(stepFigures(10, 1000, []), criteria).sustained).toBe(false);
  });
});

describe('the search', () => {
  const plan = { ladder: [10, 20, 40, 80], refineSteps: 2 };
  const run = (capacity: number): TriedRate[] => {
    const tried: TriedRate[] = [];
    for (let rate = nextRate(plan, tried); rate !== undefined; rate = nextRate(plan, tried)) tried.push({ rate, sustained: rate <= capacity });
    return tried;
  };

  it('climbs the ladder to the first failure, then bisects geometrically', () => {
    const tried = run(30);
    expect(tried.map((t) => t.rate)).toEqual([10, 20, 40, 28.3, 33.6]);
    expect(sustainableRate(tried)).toBe(28.3);
    expect(saturated(tried)).toBe(true);
  });

  it('halves below the first rung when even it fails', () => {
    const tried = run(4);
    expect(tried.map((t) => t.rate)).toEqual([10, 5, 2.5]);
    expect(sustainableRate(tried)).toBe(2.5);
  });

  it('reports a lower bound when the whole ladder is sustained', () => {
    const tried = run(1000);
    expect(tried.map((t) => t.rate)).toEqual([10, 20, 40, 80]);
    expect(sustainableRate(tried)).toBe(80);
    expect(saturated(tried)).toBe(false);
  });

  it('never counts a sustained rate above one that failed', () => {
    expect(sustainableRate([{ rate: 10, sustained: true }, { rate: 20, sustained: false }, { rate: 40, sustained: true }])).toBe(10);
    expect(sustainableRate([{ rate: 10, sustained: false }])).toBe(0);
  });
});

describe('ladders and step lengths', () => {
  it('makes a tidy geometric ladder up to the maximum', () => {
    expect(geometricLadder(50, 2, 3200)).toEqual([50, 100, 200, 400, 800, 1600, 3200]);
    expect(geometricLadder(5, Math.SQRT2, 20)).toEqual([5, 7.07, 10, 14.1, 20]);
  });

  it('lengthens steps at low rates to schedule enough requests', () => {
    expect(stepDurationMs(100, 2000, 20)).toBe(2000);
    expect(stepDurationMs(5, 2000, 20)).toBe(4000);
  });
});

describe('stepSchedule', () => {
  it('holds exactly rate x duration requests, ascending, within the step', () => {
    for (const seed of [1, 2, 3]) {
      const offsets = stepSchedule('poisson', 40, 1500, seed);
      expect(offsets).toHaveLength(60);
      expect(offsets.every((at, i) => at >= 0 && at < 1500 && (i === 0 || at >= offsets[i - 1]!))).toBe(true);
    }
    expect(stepSchedule('poisson', 40, 1500, 7)).toEqual(stepSchedule('poisson', 40, 1500, 7));
    expect(stepSchedule('constant', 10, 1000, 1)).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
  });

  it('spreads Poisson arrivals unevenly: some gaps far shorter and far longer than the mean', () => {
    const offsets = stepSchedule('poisson', 100, 10_000, 4);
    const gaps = offsets.slice(1).map((at, i) => at - offsets[i]!);
    expect(Math.min(...gaps)).toBeLessThan(1);
    expect(Math.max(...gaps)).toBeGreaterThan(40);
  });
});

describe('ratioBound', () => {
  it('is exact only when both rates are saturation points, and a bound in the direction of the side that is not', () => {
    expect(ratioBound(true, true)).toBe('exact');
    // The numerator could have sustained more: the ratio is at least what it shows.
    expect(ratioBound(false, true)).toBe('lower');
    expect(ratioBound(true, false)).toBe('upper');
    expect(ratioBound(false, false)).toBe('unknown');
  });
});

import { describe, expect, it } from 'vitest';
import { buildResults } from '../results/build.js';
import type { ResultsDocument } from '../results/schema.js';
import { evaluateGate, parseLimit, parseMetricSpec } from './gate.js';
import { seededRandom } from '../measure/prng.js';

const MACHINE = { cpuModel: 'test CPU', cores: 2, memoryBytes: 2 ** 33, kernel: '6.1.0', node: 'v20.20.0', cgroup: { version: 'none' as const }, loadAverage1m: 0.5 };

function lognormal(random: () => number, n: number, median: number, sigma: number): number[] {
  return Array.from({ length: n }, () => median * Math.exp(sigma * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())));
}

function run(variants: Record<string, number[]>): ResultsDocument {
  return buildResults({
    benchmark: 'synthetic',
    startedAt: '2026-01-05T10:00:00.000Z',
    machine: MACHINE,
    variants: Object.entries(variants).map(([variant, samplesMs]) => ({ variant, samplesMs })),
  });
}

describe('evaluateGate', () => {
  const random = seededRandom(99);
  const base = lognormal(random, 30, 100, 0.12);

  it('raises no alarm on identical samples', () => {
    const report = evaluateGate(run({ warm: base }), run({ warm: base }));
    expect(report.regression).toBe(false);
    expect(report.results.map((r) => [r.metric, r.verdict])).toEqual([
      ['p50', 'no change'],
      ['p90', 'no change'],
    ]);
  });

  it('raises an alarm on +20%', () => {
    const report = evaluateGate(run({ warm: base }), run({ warm: base.map((x) => x * 1.2) }));
    expect(report.regression).toBe(true);
    expect(report.results.find((r) => r.metric === 'p50')).toMatchObject({ verdict: 'regression' });
    expect(report.results.find((r) => r.metric === 'p50')!.ratio!.ratio).toBeCloseTo(1.2, 10);
  });

  it('calls -20% an improvement, which is no regression', () => {
    const report = evaluateGate(run({ warm: base }), run({ warm: base.map((x) => x * 0.8) }), { metrics: [{ variant: 'warm', metric: 'p50' }] });
    expect(report.results[0]!.verdict).toBe('improvement');
    expect(report.regression).toBe(false);
  });

  it('keeps false alarms under 5% and detects +20% at least 95% of the time on noisy lognormal data', () => {
    const trials = 150;
    let falseAlarms = 0;
    let detected = 0;
    for (let t = 0; t < trials; t += 1) {
      const a = run({ warm: lognormal(random, 30, 100, 0.12) });
      const same = run({ warm: lognormal(random, 30, 100, 0.12) });
      const slower = run({ warm: lognormal(random, 30, 120, 0.12) });
      const metrics = [{ variant: 'warm', metric: 'p50' as const }];
      if (evaluateGate(a, same, { metrics, seed: t }).regression) falseAlarms += 1;
      if (evaluateGate(a, slower, { metrics, seed: t }).regression) detected += 1;
    }
    expect(falseAlarms / trials).toBeLessThanOrEqual(0.05);
    expect(detected / trials).toBeGreaterThanOrEqual(0.95);
  });

  it('compares p90 only with 29 samples a side, and says so', () => {
    const few = lognormal(random, 10, 100, 0.1);
    const report = evaluateGate(run({ warm: few }), run({ warm: few.map((x) => x * 2) }), { metrics: [{ variant: 'warm', metric: 'p90' }] });
    expect(report.results[0]).toMatchObject({ verdict: 'inconclusive' });
    expect(report.results[0]!.reason).toContain('n >= 29');
    expect(report.regression).toBe(false);
  });

  it('checks p99 against an absolute limit', () => {
    const report = evaluateGate(run({ warm: base }), run({ warm: base }), { p99MaxMs: { warm: 1 }, metrics: [{ variant: 'warm', metric: 'p50' }] });
    expect(report.results.map((r) => r.verdict)).toEqual(['no change', 'regression']);
    expect(report.regression).toBe(true);
    expect(evaluateGate(run({ warm: base }), run({ warm: base }), { p99MaxMs: { warm: 10_000 } }).regression).toBe(false);
  });

  it('refuses unknown variants, runs with nothing in common and bad options with coded errors', () => {
    expect(() => evaluateGate(run({ warm: base }), run({ cold: base }))).toThrow(expect.objectContaining({ code: 'USAGE_INVALID' }));
    expect(() => evaluateGate(run({ warm: base }), run({ warm: base }), { metrics: [{ variant: 'nope', metric: 'p50' }] })).toThrow(/variant nope is not in the baseline/);
    expect(() => evaluateGate(run({ warm: base }), run({ warm: base }), { tolerance: -1 })).toThrow(expect.objectContaining({ code: 'USAGE_INVALID' }));
    expect(() => parseMetricSpec('warm:p99')).toThrow(expect.objectContaining({ code: 'USAGE_INVALID' }));
    expect(parseMetricSpec('fixture/warm:p90')).toEqual({ variant: 'fixture/warm', metric: 'p90' });
    expect(parseLimit('fixture/warm=150.5')).toEqual(['fixture/warm', 150.5]);
    expect(() => parseLimit('fixture/warm')).toThrow(expect.objectContaining({ code: 'USAGE_INVALID' }));
  });
});

import { describe, expect, it } from 'vitest';
import { evaluateThresholds, parseThreshold, type Threshold, type VariantFigures } from './thresholds.js';

describe('parseThreshold', () => {
  it('reads latency, error rate and driver figures with their units', () => {
    expect(parseThreshold('p99 < 500ms')).toEqual({ text: 'p99 < 500ms', metric: 'p99', comparison: '<', value: 500 });
    expect(parseThreshold('hot/wan: p50 <= 0.2s')).toMatchObject({ variant: 'hot/wan', metric: 'p50', comparison: '<=', value: 200 });
    expect(parseThreshold('errors < 0.1%')).toMatchObject({ metric: 'errors', value: 0.001 });
    expect(parseThreshold('rate >= 200/s')).toMatchObject({ metric: 'rate', comparison: '>=', value: 200 });
  });

  it('says what was expected', () => {
    expect(parseThreshold('p99 < 500')).toBe('p99 is a time: give its bound in ms or s');
    expect(parseThreshold('errors < 2')).toBe('errors is a rate: give its bound in %');
    expect(parseThreshold('fast please')).toMatch(/^expected "\[VARIANT:\] METRIC OP VALUE"/);
  });
});

describe('evaluateThresholds', () => {
  const figures = (id: string, p99: number, errorRate: number, metrics: Record<string, number> = {}): VariantFigures => ({
    id,
    variant: id.split('/')[0]!,
    latencyMs: { p50: p99 / 2, p90: p99, p99, mean: p99 / 2, max: p99 },
    errorRate,
    metrics,
  });
  const variants = [figures('a/local', 400, 0), figures('a/wan', 600, 0.002, { rate: 150 }), figures('b/local', 100, 0)];
  const parse = (text: string) => parseThreshold(text) as Threshold;

  it('checks each variant a threshold applies to', () => {
    const lines = evaluateThresholds([parse('p99 < 500ms')], variants);
    expect(lines.map((l) => [l.name, l.met])).toEqual([
      ['a/local: p99 (ms)', true],
      ['a/wan: p99 (ms)', false],
      ['b/local: p99 (ms)', true],
    ]);
  });

  it('scopes by variant name or id, shows error rates in percent, and fails unmeasured figures', () => {
    expect(evaluateThresholds([parse('a: errors < 0.1%')], variants).map((l) => [l.name, l.measured, l.met])).toEqual([
      ['a/local: errors (%)', 0, true],
      ['a/wan: errors (%)', 0.2, false],
    ]);
    const rate = evaluateThresholds([parse('rate >= 100/s')], variants);
    expect(rate.map((l) => l.met)).toEqual([false, true, false]);
    expect(evaluateThresholds([parse('a/wan: rate >= 100/s')], variants)).toEqual([{ name: 'a/wan: rate', expected: 'rate >= 100/s', measured: 150, met: true }]);
  });

  it('reports a labelled figure under its label, and judges a derived figure only when a threshold names it', () => {
    const derived: VariantFigures = {
      id: 'fixture/overhead',
      variant: 'overhead',
      latencyMs: { p50: 25, p90: Number.NaN, p99: 30, mean: Number.NaN, max: Number.NaN },
      errorRate: Number.NaN,
      metrics: {},
      labels: { p50: 'fixture: activation overhead p50, cached (ms)' },
      namedOnly: true,
    };
    expect(evaluateThresholds([parse('p99 < 500ms')], [...variants, derived])).toHaveLength(3);
    expect(evaluateThresholds([parse('overhead: p50 <= 20ms'), parse('overhead: p99 <= 50ms')], [...variants, derived])).toEqual([
      { name: 'fixture: activation overhead p50, cached (ms)', expected: 'p50 <= 20ms', measured: 25, met: false },
      { name: 'fixture/overhead: p99 (ms)', expected: 'p99 <= 50ms', measured: 30, met: true },
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { buildResults } from '../results/build.js';
import { compareRuns } from './compare.js';
import { renderComparisonMarkdown } from './markdown.js';

const MACHINE = { cpuModel: 'test CPU', cores: 2, memoryBytes: 2 ** 33, kernel: '6.1.0', node: 'v20.20.0', cgroup: { version: 'none' as const }, loadAverage1m: 0.5 };
const run = (variants: Record<string, number[]>) =>
  buildResults({ benchmark: 'x', startedAt: new Date().toISOString(), machine: MACHINE, variants: Object.entries(variants).map(([variant, samplesMs]) => ({ variant, samplesMs })) });
const ramp = (n: number, scale = 1) => Array.from({ length: n }, (_, i) => (100 + i) * scale);

describe('compareRuns', () => {
  it('gives intervals of the ratio only where both sides have the samples a quantile interval needs', () => {
    const comparison = compareRuns(run({ warm: ramp(30), cold: ramp(300), onlyA: [1] }), run({ warm: ramp(30, 1.1), cold: ramp(300, 2), onlyB: [1] }));
    const warm = comparison.variants.find((v) => v.variant === 'warm')!;
    expect(warm.quantiles.p50.ratio).toBeCloseTo(1.1, 10);
    expect(warm.quantiles.p50.low).toBeDefined();
    expect(warm.quantiles.p90.low).toBeDefined();
    expect(warm.quantiles.p99.low).toBeUndefined();
    const cold = comparison.variants.find((v) => v.variant === 'cold')!;
    expect(cold.quantiles.p99.ratio).toBeCloseTo(2, 10);
    expect(cold.quantiles.p99.low).toBeDefined();
    expect(comparison.onlyInA).toEqual(['onlyA']);
    expect(comparison.onlyInB).toEqual(['onlyB']);
    const markdown = renderComparisonMarkdown(comparison);
    expect(markdown).toContain('(p50: 6, p90: 29, p99: 299)');
    expect(markdown).toContain('Only in A: onlyA.');
  });

  it('refuses runs with nothing in common', () => {
    expect(() => compareRuns(run({ a: [1] }), run({ b: [1] }))).toThrow(expect.objectContaining({ code: 'USAGE_INVALID' }));
  });
});

import { describe, expect, it } from 'vitest';
import { aggregateRun, type TrialRecord } from './aggregate.js';
import { planScenario } from './plan.js';
import { parseScenario } from './schema.js';

const parsed = parseScenario(
  {
    name: 'agg',
    driver: 'activation',
    images: [{ name: 'fixture', spec: 'f.yaml' }],
    registry: { links: ['local', { name: 'wan', bandwidth: '100mbit', rtt: '40ms' }] },
    variants: [{ name: 'warm', mode: 'agent-cached', image: 'fixture' }],
    repetitions: 2,
    warmup: 1,
  },
  'agg.yaml',
);
const plan = planScenario(parsed.scenario!, { quick: false });

function record(variantId: string, round: number, outcome: TrialRecord['outcome'], failed?: string): TrialRecord {
  const trial = plan.trials.find((t) => t.variantId === variantId && t.round === round)!;
  return { trial, ...(outcome ? { outcome } : {}), ...(failed ? { failed } : {}) };
}

describe('aggregateRun', () => {
  const records: TrialRecord[] = [
    // Warm-up: left out.
    record('warm/local', 1, { samples: [{ latencyMs: 9999, ok: true }] }),
    record('warm/local', 2, { samples: [{ latencyMs: 10, ok: true, phases: { resolveMs: 1, startMs: 5 }, kind: 'warm' }], metrics: { rate: 100 } }),
    record('warm/local', 3, { samples: [{ latencyMs: 30, ok: true, phases: { resolveMs: 3, startMs: 7 }, kind: 'warm' }, { latencyMs: 5, ok: false, error: 'POOL_EXHAUSTED' }], metrics: { rate: 300 } }),
    record('warm/wan', 2, undefined, 'SUBSTRATE_FAILED'),
    record('warm/wan', 3, { samples: [{ latencyMs: 50, ok: true }], series: [{ id: 'x', title: 'X', x: { label: 'a', unit: 'b' }, y: { label: 'c', unit: 'd' }, points: [[2, 1], [1, 1]] }] }),
  ];
  const run = aggregateRun(plan, records);

  it('keeps the measured operations of each variant, with their phases', () => {
    expect(run.variants.map((v) => [v.variant, v.label, v.samplesMs])).toEqual([
      ['warm/local', 'warm, local', [10, 30]],
      ['warm/wan', 'warm over wan', [50]],
    ]);
    expect(run.variants[0]!.phases).toEqual({ resolveMs: [1, 3], startMs: [5, 7] });
  });

  it('counts failed operations and failed trials in the error rate and the facts', () => {
    const local = run.figures.find((f) => f.id === 'warm/local')!;
    expect(local.errorRate).toBeCloseTo(1 / 3);
    expect(local.latencyMs.p50).toBe(20);
    expect(local.metrics).toEqual({ rate: 200 });
    expect(run.facts['warm/local']).toEqual({ operations: 3, errors: { POOL_EXHAUSTED: 1 }, kinds: { warm: 2 }, metrics: { rate: 200 }, failedTrials: 0 });
    expect(run.figures.find((f) => f.id === 'warm/wan')!.errorRate).toBe(0.5);
    expect(run.facts['warm/wan']!.errors).toEqual({ SUBSTRATE_FAILED: 1 });
  });

  it('merges chart series per variant, sorted by x', () => {
    expect(run.series).toEqual([{ id: 'x', title: 'X', x: { label: 'a', unit: 'b' }, y: { label: 'c', unit: 'd' }, lines: [{ name: 'warm/wan', points: [[1, 1], [2, 1]] }] }]);
  });

  it('leaves out of the results a variant with no successful operation', () => {
    const none = aggregateRun(plan, [record('warm/local', 2, { samples: [{ latencyMs: 1, ok: false, error: 'X' }] })]);
    expect(none.variants).toEqual([]);
    expect(none.figures.find((f) => f.id === 'warm/local')!.errorRate).toBe(1);
  });
});

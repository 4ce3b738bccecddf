import { describe, expect, it } from 'vitest';
import { formatPlan, planScenario } from './plan.js';
import { parseScenario, type Scenario } from './schema.js';

function scenario(extra: Record<string, unknown> = {}): Scenario {
  const parsed = parseScenario(
    {
      name: 'plan-test',
      driver: 'activation',
      images: [{ name: 'fixture', spec: 'f.yaml' }],
      registry: { links: ['local', { name: 'wan', bandwidth: '100mbit', rtt: '40ms' }] },
      variants: [
        { name: 'cold', mode: 'agent-uncached', image: 'fixture' },
        { name: 'warm', mode: 'agent-cached', image: 'fixture' },
        { name: 'hot', mode: 'hot', image: 'fixture' },
      ],
      repetitions: 4,
      warmup: 1,
      seed: 9,
      ...extra,
    },
    'plan-test.scenario.yaml',
  );
  expect(parsed.problems).toEqual([]);
  return parsed.scenario!;
}

describe('planScenario', () => {
  it('runs every variant over every link once per round, warm-up rounds first', () => {
    const plan = planScenario(scenario(), { quick: false });
    expect(plan.variants.map((v) => v.id)).toEqual(['cold/local', 'cold/wan', 'warm/local', 'warm/wan', 'hot/local', 'hot/wan']);
    expect(plan.trials).toHaveLength(6 * 5);
    for (let round = 1; round <= 5; round += 1) {
      const ids = plan.trials.filter((t) => t.round === round).map((t) => t.variantId);
      expect([...ids].sort()).toEqual(plan.variants.map((v) => v.id).sort());
      expect(plan.trials.filter((t) => t.round === round).every((t) => t.warmup === (round === 1))).toBe(true);
    }
    expect(plan.trials.map((t) => t.index)).toEqual([...Array(30).keys()]);
  });

  it('interleaves in an order drawn from the seed: the same for a seed, another for another', () => {
    const order = (seed: number) => planScenario(scenario({ seed }), { quick: false }).trials.map((t) => t.variantId);
    expect(order(9)).toEqual(order(9));
    expect(order(9)).not.toEqual(order(10));
    // Not the declared order every round.
    const rounds = new Set(planScenario(scenario(), { quick: false }).trials.reduce<string[]>((acc, t, i, all) => (t.round !== all[i - 1]?.round ? [...acc, all.filter((x) => x.round === t.round).map((x) => x.variantId).join()] : acc), []));
    expect(rounds.size).toBeGreaterThan(1);
  });

  it('lists the services the variants need, in start order', () => {
    const plan = planScenario(scenario(), { quick: false });
    expect(plan.services.map((s) => s.kind)).toEqual(['registry', 'link', 'image', 'agent', 'agent', 'controller']);
  });

  it('applies quick: its variants, links, repetitions and warm-up (default: at most 2 rounds, no warm-up)', () => {
    const quick = planScenario(scenario({ quick: { variants: ['warm'], links: ['local'], repetitions: 3 } }), { quick: true });
    expect(quick.variants.map((v) => v.id)).toEqual(['warm']);
    expect(quick.trials.map((t) => t.round)).toEqual([1, 2, 3]);
    expect(quick.services.map((s) => s.kind)).toEqual(['registry', 'image', 'agent']);
    const defaults = planScenario(scenario(), { quick: true });
    expect(defaults.repetitions).toBe(2);
    expect(defaults.warmupRounds).toBe(0);
  });

  it('prints the services, variants, rounds and thresholds', () => {
    const text = formatPlan(planScenario(scenario({ thresholds: ['p99 < 1s'] }), { quick: false })).join('\n');
    expect(text).toContain('scenario plan-test (plan-test.scenario.yaml): driver activation, seed 9');
    expect(text).toContain('  - link: wan: 100 Mbit/s, 40 ms round trip');
    expect(text).toMatch(/round 1 \(warm-up\): /);
    expect(text).toContain('thresholds: p99 < 1s');
  });

  it('plans a whole benchmark run: its services and the variants it reports, no trials; quick and overrides set its options', () => {
    const parsed = parseScenario(
      { name: 'ba', driver: 'bench-activation', options: { runs: 30 }, thresholds: ['overhead: p50 <= 20ms'], quick: { options: { runs: 6, servers: ['fixture'] } } },
      'ba.scenario.yaml',
      { options: { sandbox: 'bwrap' } },
    );
    expect(parsed.problems).toEqual([]);
    const full = planScenario(parsed.scenario!, { quick: false });
    expect(full).toMatchObject({ wholeRun: true, trials: [], repetitions: 0, warmupRounds: 0, spec: { options: { runs: 30, sandbox: 'bwrap', servers: ['fixture', 'everything'] } } });
    expect(full.variants.map((v) => v.id)).toEqual(['fixture/bare', 'fixture/warm', 'fixture/cold', 'fixture/seed', 'everything/bare', 'everything/warm', 'everything/cold', 'everything/seed']);
    expect(full.services.map((s) => s.kind)).toEqual(['registry', 'agent', 'agent', 'image', 'image']);
    const quick = planScenario(parsed.scenario!, { quick: true });
    expect(quick.spec).toEqual({ options: { runs: 6, sandbox: 'bwrap', servers: ['fixture'] } });
    const text = formatPlan(quick).join('\n');
    expect(text).toContain('scenario ba (ba.scenario.yaml), quick: driver bench-activation, one whole benchmark run');
    expect(text).toContain('the benchmark, which interleaves its variants itself in random order:\n  for each server (fixture): 6 rounds');
    expect(text).toContain('variants it reports (4): fixture/bare, fixture/warm, fixture/cold, fixture/seed');
    expect(text).toContain('thresholds: overhead: p50 <= 20ms');
    expect(text).not.toContain('round 1');
  });
});

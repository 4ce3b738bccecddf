import { describe, expect, it } from 'vitest';
import { openLoopFigures, phaseMedians, poolClaimMs, type ArrivalOutcome } from './pool-figures.js';

const served = (plannedMs: number, answeredMs: number, tier: 'hot' | 'warm' | 'cold', claimMs: number, queueMs = 0): ArrivalOutcome => ({
  plannedMs,
  sentMs: plannedMs + 1,
  answeredMs,
  tier,
  phases: { queueMs, claimMs, totalMs: answeredMs - plannedMs - 1 },
});

describe('openLoopFigures', () => {
  const outcomes: ArrivalOutcome[] = [
    served(0, 5, 'hot', 0.4),
    served(100, 400, 'warm', 2, 0.1),
    served(200, 700, 'warm', 3, 0.2),
    served(300, 2900, 'cold', 1, 2000),
    { plannedMs: 400, sentMs: 450, answeredMs: 2450, error: 'POOL_EXHAUSTED', errorMessage: 'no warm runner within 2000 ms' },
    { plannedMs: 500, sentMs: 500, answeredMs: 510, error: 'POOL_EXHAUSTED', errorMessage: 'queue full' },
    { ...served(600, 900, 'warm', 2), endError: 'INSTANCE_NOT_FOUND' },
  ];
  const figures = openLoopFigures(outcomes);

  it('charges latency from the planned time, per tier', () => {
    expect(figures.byTier.hot?.endToEndMs.p50).toBe(5);
    expect(figures.byTier.warm?.endToEndMs).toMatchObject({ n: 3, min: 300, max: 500 });
    expect(figures.byTier.cold).toMatchObject({ count: 1, queueMs: { p50: 2000 } });
    expect(figures.endToEndMs).toMatchObject({ n: 5, max: 2600 });
  });

  it('counts errors by code and leaves them out of the latencies', () => {
    expect(figures).toMatchObject({ arrivals: 7, activated: 5, errors: { POOL_EXHAUSTED: 2 }, endErrors: { INSTANCE_NOT_FOUND: 1 } });
    expect(figures.errorExamples).toEqual({ POOL_EXHAUSTED: 'no warm runner within 2000 ms' });
  });

  it('reports how late the load generator sent', () => {
    expect(figures.sendLagMs).toMatchObject({ n: 7, max: 50, min: 0 });
  });

  it('leaves out tiers nothing was served from', () => {
    expect(Object.keys(openLoopFigures([served(0, 5, 'hot', 0.3)]).byTier)).toEqual(['hot']);
  });
});

describe('poolClaimMs', () => {
  it('takes the claim phase of warm and cold activations only', () => {
    expect(poolClaimMs([served(0, 5, 'hot', 9), served(0, 5, 'warm', 2), served(0, 5, 'cold', 4), { tier: 'warm' }])).toMatchObject({ n: 2, min: 2, max: 4 });
  });
});

describe('phaseMedians', () => {
  it('takes the median of each phase, over the samples that have it', () => {
    expect(phaseMedians([{ phases: { a: 1, b: 10 } }, { phases: { a: 3 } }, { phases: { a: 2, b: 30 } }])).toEqual({ a: 2, b: 20 });
  });
});

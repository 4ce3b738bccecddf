import { describe, expect, it } from 'vitest';
import { summarize } from '../measure/stats.js';
import { poolResults } from './pool-results.js';
import type { PoolBenchResult } from './pool.js';

const machine = { cpuModel: 'test', cores: 2, memoryBytes: 1, kernel: 'k', node: 'v20', cgroup: { version: 1 as const }, loadAverage1m: 1, dockerEngine: '20.10' };
const made = { resolveMs: 5, pullMs: 900, initializeMs: 300 };

function result(): PoolBenchResult {
  const side = (ms: number[], phases: Record<string, number>) => ({ summary: summarize(ms), phaseMedians: {}, samples: ms.map((value, i) => ({ round: i + 1, ms: value, phases })) });
  return {
    benchmark: 'pool',
    startedAt: '2026-01-01T00:00:00.000Z',
    machine,
    config: { server: 'fixture', image: { reference: 'r/x:1', digest: 'sha256:00' }, ratePerSecond: 2, durationS: 1, size: 2, maxSize: 4, holdMs: 0, hot: 1, rounds: 2, warmupRounds: 0, rssRunners: 1, seed: 1 },
    sideBySide: {
      variants: { 'docker-cold': side([2000, 2100], { pullMs: 1500 }), warm: side([300, 320], { claimMs: 1, ...made, totalMs: 310 }), hot: side([4, 5], { queueMs: 0, claimMs: 3, ...made, totalMs: 3 }) },
      failures: [],
      dockerColdOverWarmP50: 6.6,
    },
    openLoop: {
      arrivals: 3,
      activated: 2,
      errors: { POOL_EXHAUSTED: 1 },
      errorExamples: { POOL_EXHAUSTED: 'no warm runner' },
      endErrors: {},
      endToEndMs: summarize([10, 900]),
      byTier: {},
      sendLagMs: summarize([0, 1, 2]),
      refill: { afterClaimMs: summarize([1200]), afterClaimSamplesMs: [1200], unreplaced: 0, runnerStartMs: summarize([]), runnerStartSamplesMs: [], controllerEstimateMs: 1000 },
      controllerPeakRssBytes: 1,
      outcomes: [
        { plannedMs: 100, sentMs: 100, answeredMs: 110, tier: 'hot', phases: { queueMs: 0, claimMs: 2, ...made, totalMs: 2 } },
        { plannedMs: 600, sentMs: 600, answeredMs: 1500, tier: 'warm', phases: { queueMs: 0, claimMs: 2, ...made, totalMs: 899 } },
        { plannedMs: 900, sentMs: 900, answeredMs: 2900, error: 'POOL_EXHAUSTED' },
      ],
    },
    claimMs: summarize([1, 2]),
    rss: { runners: 1, agentsMeasured: 1, controllerBytes: 1, runnerAgentsBytes: 1, perRunnerAgentBytes: 1 },
    targets: [{ name: 'hot p99', expected: '<= 10 ms', measured: 5, met: true }],
  };
}

describe('poolResults', () => {
  const document = poolResults(result());

  it('has a variant per side-by-side variant and open-loop tier served, and the refill, leaving out empty ones', () => {
    expect(document.variants.map((v) => v.name)).toEqual(['side-by-side/docker-cold', 'side-by-side/warm', 'side-by-side/hot', 'open-loop/hot', 'open-loop/warm', 'open-loop/refill']);
    expect(document.variants.find((v) => v.name === 'open-loop/warm')?.samplesMs).toEqual([900]);
  });

  it('gives hot activations only the phases on their own clock', () => {
    const names = (variant: string) => document.variants.find((v) => v.name === variant)?.phases?.map((p) => p.name);
    expect(names('side-by-side/hot')).toEqual(['queue', 'claim']);
    expect(names('open-loop/hot')).toEqual(['queue', 'claim']);
    expect(names('side-by-side/warm')).toEqual(['claim', 'resolve', 'pull', 'initialize']);
  });

  it('charts open-loop latency by arrival time and keeps the particulars as facts', () => {
    expect(document.series?.[0]?.lines).toEqual([
      { name: 'hot', points: [[0.1, 10]] },
      { name: 'warm', points: [[0.6, 900]] },
    ]);
    expect(document.facts).toMatchObject({ dockerColdOverWarmP50: 6.6, openLoop: { errors: { POOL_EXHAUSTED: 1 } } });
    expect(document).toMatchObject({ benchmark: 'pool', machine: { dockerEngine: '20.10' }, targets: [{ met: true }] });
  });
});

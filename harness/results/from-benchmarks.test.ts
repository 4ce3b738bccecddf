import { describe, expect, it } from 'vitest';
import type { ActivationBenchResult } from '../benchmarks/activation.js';
import type { ImageBenchResult } from '../benchmarks/image-pipeline.js';
import { summarize } from '../measure/stats.js';
import { activationResults, imageResults } from './from-benchmarks.js';

const MACHINE = { cpuModel: 'test CPU', cores: 2, memoryBytes: 2 ** 33, kernel: '6.1.0', node: 'v20.20.0', cgroup: { version: 'none' as const }, loadAverage1m: 0.5 };
const phases = (total: number) => ({ resolveMs: 1, pullMs: 0.2, unpackMs: 0.5, mountMs: 10, startMs: 50, initializeMs: total - 61.7, totalMs: total });

describe('activationResults', () => {
  it('makes a variant per server and way of starting it, with the agent phases for warm and cold', () => {
    const samples = { bare: [70, 75], warm: [95, 100], cold: [480, 500], seed: [900, 950] };
    const summaries = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)])) as ActivationBenchResult['servers'][number]['variants'];
    const result: ActivationBenchResult = {
      benchmark: 'activation',
      startedAt: '2026-01-05T10:00:00.000Z',
      machine: MACHINE,
      sandbox: 'runc',
      runs: 2,
      servers: [
        {
          server: 'fixture',
          image: { reference: 'r', digest: 'sha256:x' },
          variants: summaries,
          phases: { warm: phases(97), cold: phases(490) },
          overhead: { p50: 25, p99: 25 },
          coldSpeedupOverSeed: 1.9,
          samples,
          phaseSamples: { warm: [phases(95), phases(100)], cold: [phases(480), phases(500)] },
        },
      ],
      idleAgentRssBytes: 75 * 2 ** 20,
      targets: [{ name: 'idle agent RSS (MiB)', expected: '<= 80 MiB', measured: 75, met: true }],
    };
    const document = activationResults(result, {});
    expect(document.variants.map((v) => v.name)).toEqual(['fixture/bare', 'fixture/warm', 'fixture/cold', 'fixture/seed']);
    expect(document.variants[1]).toMatchObject({ label: 'fixture: agent, image cached', samplesMs: [95, 100] });
    expect(document.variants[1]!.phases!.map((p) => p.name)).toEqual(['resolve', 'pull', 'unpack', 'mount', 'start', 'initialize']);
    expect(document.variants[0]!.phases).toBeUndefined();
    expect(document.scenario).toEqual({ name: 'activation', options: { runs: 2, sandbox: 'runc', servers: ['fixture'] } });
    expect(document.startedAt).toBe('2026-01-05T10:00:00.000Z');
    expect(document.facts).toMatchObject({ idleAgentRssBytes: 75 * 2 ** 20, coldSpeedupOverSeed: { fixture: 1.9 } });
  });
});

describe('imageResults', () => {
  it('makes the cold, seed and cached variants with their phases', () => {
    const samples: ImageBenchResult['samples'] = {
      cold: { totalMs: [500, 510], resolveMs: [3, 3], pullMs: [300, 310], unpackMs: [150, 150], composeMs: [12, 13] },
      seed: { totalMs: [1000, 1100], copyMs: [600, 650], extractMs: [400, 450] },
      cached: { rootfsReadyMs: [20, 22], composeMs: [12, 12] },
    };
    const summarizeGroup = <K extends string>(group: Record<K, number[]>) => Object.fromEntries(Object.entries(group).map(([k, v]) => [k, summarize(v as number[])])) as Record<K, ReturnType<typeof summarize>>;
    const result: ImageBenchResult = {
      benchmark: 'image',
      startedAt: '2026-01-05T10:00:00.000Z',
      machine: MACHINE,
      image: { reference: 'r', digest: 'sha256:x', layers: 3, compressedBytes: 1, unpackedBytes: 2, entries: 3 },
      composeMode: 'overlay',
      storage: { dir: '/dev/shm/x', filesystem: 'tmpfs' },
      variants: { cold: summarizeGroup(samples.cold), seed: summarizeGroup(samples.seed), cached: summarizeGroup(samples.cached) },
      speedupOverSeed: 2.1,
      samples,
      targets: [],
    };
    const document = imageResults(result, { spec: 'x.yaml' });
    expect(document.variants.map((v) => [v.name, v.summaryMs.n])).toEqual([
      ['cold', 2],
      ['seed', 2],
      ['cached', 2],
    ]);
    expect(document.variants[0]!.label).toBe('cold: pull + unpack + compose (overlay)');
    expect(document.variants[2]!.phases!.find((p) => p.name === 'resolve')!.samplesMs).toEqual([8, 10]);
    expect(document.scenario.options).toEqual({ spec: 'x.yaml', runs: 2 });
  });
});

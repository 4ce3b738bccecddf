import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { quantile } from '../measure/stats.js';
import { buildResults, newRunId } from './build.js';
import { activationPhaseSamples } from './from-benchmarks.js';
import { decodeHistogramUs, encodeHistogramUs, expandHistogram } from './histogram.js';
import { readResults, samplesOf } from './read.js';
import { RAW_SAMPLES_LIMIT } from './schema.js';

const MACHINE = { cpuModel: 'test CPU', cores: 2, memoryBytes: 2 ** 33, kernel: '6.1.0', node: 'v20.20.0', cgroup: { version: 'none' as const }, gitRevision: 'abc123', loadAverage1m: 0.5 };
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('HDR histograms in microseconds', () => {
  it('keep every sample within 0.1% and every quantile close', () => {
    const samples = Array.from({ length: 5000 }, (_, i) => 0.5 + ((i * 7919) % 5000) / 10);
    const buckets = decodeHistogramUs(encodeHistogramUs(samples));
    expect(buckets.totalCount).toBe(5000);
    const expanded = expandHistogram(buckets);
    const sorted = [...samples].sort((a, b) => a - b);
    for (const q of [0.01, 0.5, 0.9, 0.99]) expect(quantile(expanded, q)).toBeCloseTo(quantile(sorted, q), 0);
    expanded.forEach((value, i) => expect(Math.abs(value - sorted[i]!) / sorted[i]!).toBeLessThan(0.001));
  });

  it('refuses what is not a histogram', () => {
    expect(() => decodeHistogramUs('not a histogram')).toThrow();
  });
});

describe('buildResults', () => {
  it('summarizes, keeps few samples raw and phases in order', () => {
    const document = buildResults({
      benchmark: 'activation',
      scenario: { options: { runs: 3 } },
      startedAt: '2026-01-05T10:11:12.000Z',
      machine: MACHINE,
      variants: [{ variant: 'fixture/warm', label: 'fixture: cached', samplesMs: [3, 1, 2], phases: { mount: [1, 1, 1], start: [2, 2, 2] } }],
      targets: [{ name: 't', expected: '<= 1', measured: Number.NaN, met: false }],
    });
    expect(document).toMatchObject({ schemaVersion: 1, benchmark: 'activation', gitRevision: 'abc123', scenario: { name: 'activation', options: { runs: 3 } } });
    expect(document.runId).toMatch(/^20260105-101112-activation-[0-9a-f]{4}$/);
    expect(document.variants[0]).toMatchObject({ name: 'fixture/warm', samplesMs: [3, 1, 2], summaryMs: { n: 3, p50: 2, max: 3 } });
    expect(document.variants[0]!.phases!.map((p) => p.name)).toEqual(['mount', 'start']);
    expect(document.targets[0]!.measured).toBeNull();
  });

  it('keeps only the histogram from RAW_SAMPLES_LIMIT samples on, and statistics read it back', () => {
    const samples = Array.from({ length: RAW_SAMPLES_LIMIT }, (_, i) => 10 + i / 100);
    const document = buildResults({ benchmark: 'pool', startedAt: new Date().toISOString(), machine: MACHINE, variants: [{ variant: 'hot', samplesMs: samples }] });
    expect(document.variants[0]!.samplesMs).toBeUndefined();
    const back = samplesOf(document.variants[0]!);
    expect(back).toHaveLength(RAW_SAMPLES_LIMIT);
    expect(quantile(back, 0.5)).toBeCloseTo(quantile(samples, 0.5), 1);
  });

  it('refuses variants without samples and impossible values, naming them', () => {
    const base = { benchmark: 'x', startedAt: new Date().toISOString(), machine: MACHINE };
    expect(() => buildResults({ ...base, variants: [{ variant: 'a', samplesMs: [] }] })).toThrow(expect.objectContaining({ code: 'RESULTS_INVALID', message: expect.stringContaining('a') }));
    expect(() => buildResults({ ...base, variants: [{ variant: 'a', samplesMs: [1, Number.NaN] }] })).toThrow(expect.objectContaining({ code: 'RESULTS_INVALID' }));
    expect(() => buildResults({ ...base, variants: [{ variant: 'has space', samplesMs: [1] }] })).toThrow(/variants\.0\.name/);
  });

  it('makes run ids that sort by time', () => {
    expect(newRunId('Bench Pool!', '2026-03-04T05:06:07.890Z')).toMatch(/^20260304-050607-bench-pool-[0-9a-f]{4}$/);
  });
});

describe('readResults', () => {
  it('reads back what it wrote and refuses anything else with RESULTS_INVALID', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcpwarm-results-'));
    dirs.push(dir);
    const document = buildResults({ benchmark: 'x', startedAt: new Date().toISOString(), machine: MACHINE, variants: [{ variant: 'a', samplesMs: [1, 2] }] });
    await writeFile(join(dir, 'ok.json'), JSON.stringify(document));
    expect(await readResults(join(dir, 'ok.json'))).toEqual(document);
    await writeFile(join(dir, 'text.json'), 'not json');
    await expect(readResults(join(dir, 'text.json'))).rejects.toMatchObject({ code: 'RESULTS_INVALID', message: expect.stringContaining('not JSON') });
    await writeFile(join(dir, 'v2.json'), JSON.stringify({ ...document, schemaVersion: 2 }));
    await expect(readResults(join(dir, 'v2.json'))).rejects.toMatchObject({ code: 'RESULTS_INVALID', message: expect.stringContaining('schemaVersion') });
    await writeFile(join(dir, 'histogram.json'), JSON.stringify({ ...document, variants: [{ ...document.variants[0], histogramUs: 'garbage' }] }));
    await expect(readResults(join(dir, 'histogram.json'))).rejects.toMatchObject({ code: 'RESULTS_INVALID', message: expect.stringContaining('histogram') });
    await expect(readResults(join(dir, 'missing.json'))).rejects.toMatchObject({ code: 'RESULTS_INVALID', message: expect.stringContaining('ENOENT') });
  });
});

describe('activationPhaseSamples', () => {
  it('lists the phases in order without the total, and the injected delay when there is one', () => {
    const phases = activationPhaseSamples([
      { resolveMs: 1, pullMs: 2, unpackMs: 3, mountMs: 4, startMs: 5, initializeMs: 6, totalMs: 21 },
      { resolveMs: 1, pullMs: 2, unpackMs: 3, mountMs: 4, startMs: 5, initializeMs: 6, injectedDelayMs: 20, totalMs: 41 },
    ]);
    expect(Object.keys(phases)).toEqual(['resolve', 'pull', 'unpack', 'mount', 'start', 'initialize', 'injectedDelay']);
    expect(phases.mount).toEqual([4, 4]);
    expect(phases.injectedDelay).toEqual([20]);
  });
});

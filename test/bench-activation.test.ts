/**
 * `bench activation` is its shipped scenario run by the scenario engine: with flags as its options
 * it measures real agents (separate processes) against a bare spawn and the seed pipeline, keeps
 * the variant names the gate and reports/baseline.json use, judges the scenario's thresholds as
 * its targets, and stops its agents and registry on Ctrl-C.
 */
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActivationBenchResult } from '../harness/benchmarks/activation.js';
import { validateResults } from '../harness/results/build.js';
import { findExecutable } from '../runner/exec.js';
import { interruptCli, runCli } from './support/cli.js';
import { processesMentioning } from './support/processes.js';

const missing = ['docker-registry', 'skopeo'].filter((tool) => findExecutable(tool) === undefined);
if (missing.length > 0 && process.env.CI === 'true') throw new Error(`CI=true and ${missing.join(', ')} not installed`);

let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'mcpwarm-bench-activation-test-'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe.skipIf(missing.length > 0)('bench activation through the scenario engine', () => {
  it('measures the fixture server with the flags as options, under the variant names the gate compares', async () => {
    const dir = join(base, 'run');
    await mkdir(join(dir, 'work'), { recursive: true });
    const run = await runCli(['bench', 'activation', '--quick', '--runs', '2', '--out-dir', join(dir, 'runs'), '--work-dir', join(dir, 'work'), '--json']);
    expect(run.code, run.stderr).toBe(0);
    const result = run.json as ActivationBenchResult;
    expect(result).toMatchObject({ benchmark: 'activation', runs: 2, sandbox: 'auto' });
    expect(result.servers.map((s) => s.server)).toEqual(['fixture']);
    for (const variant of ['bare', 'warm', 'cold', 'seed'] as const) expect(result.servers[0]!.samples[variant]).toHaveLength(2);
    // The thresholds, under the benchmark's names, measured from its figures.
    const fixture = result.servers[0]!;
    expect(result.targets.map((t) => [t.name, t.expected])).toEqual([
      ['fixture: activation overhead p50, cached (ms)', 'p50 <= 20ms'],
      ['fixture: activation overhead p99, cached (ms)', 'p99 <= 50ms'],
      ['fixture: uncached vs seed pipeline (p50 ratio)', 'speedup >= 2'],
      ['idle agent RSS (MiB)', 'rss-mib <= 80'],
    ]);
    expect(result.targets[0]).toMatchObject({ measured: fixture.overhead.p50, met: fixture.overhead.p50 <= 20 });
    expect(result.targets[3]!.measured).toBeCloseTo(result.idleAgentRssBytes / 2 ** 20, 6);

    const [runId] = await readdir(join(dir, 'runs'));
    const document = validateResults(JSON.parse(await readFile(join(dir, 'runs', runId!, 'results.json'), 'utf8')), 'results.json');
    expect(document.variants.map((v) => v.name)).toEqual(['fixture/bare', 'fixture/warm', 'fixture/cold', 'fixture/seed']);
    expect(document.targets.map((t) => t.name)).toEqual(result.targets.map((t) => t.name));

    // The gate finds the metric make bench-ci compares against the committed baseline.
    const gate = await runCli(['gate', '--baseline', 'reports/baseline.json', '--candidate', join(dir, 'runs', runId!, 'results.json'), '--metric', 'fixture/warm:p50', '--tolerance', '1.0']);
    expect([0, 1], gate.stderr).toContain(gate.code);
    expect(gate.stderr).toContain('fixture: agent, image cached p50');

    expect(await processesMentioning(dir)).toEqual([]);
    expect(await readdir(join(dir, 'work'))).toEqual([]);
  }, 300_000);

  it('stops its agents and registry on Ctrl-C, writes nothing and exits 130', async () => {
    const dir = join(base, 'interrupted');
    await mkdir(join(dir, 'work'), { recursive: true });
    const { code, stderr } = await interruptCli(['bench', 'activation', '--quick', '--out-dir', join(dir, 'runs'), '--work-dir', join(dir, 'work')], /fixture: building/, async () => {
      // The registry and both agents run: the benchmark is building the image.
      expect((await processesMentioning(join(dir, 'work'))).filter((p) => p.cmdline.includes(' agent '))).toHaveLength(2);
    });
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('SIGINT: stopping the run');
    expect(await processesMentioning(dir)).toEqual([]);
    expect(await readdir(join(dir, 'work'))).toEqual([]);
    await expect(readdir(join(dir, 'runs'))).rejects.toMatchObject({ code: 'ENOENT' });
  }, 300_000);
});

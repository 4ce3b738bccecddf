/**
 * `bench pool` end to end, in a very short configuration, through the CLI: a real registry, a
 * controller process with real runner agents, the real Docker engine, and nothing left behind.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerSocketPath } from '../runner/substrates/docker/engine.js';
import type { PoolBenchResult } from '../harness/benchmarks/pool.js';
import { poissonArrivals } from '../harness/measure/arrivals.js';
import { runCli } from './support/cli.js';
import { processesMentioning } from './support/processes.js';

const CI = process.env.CI === 'true';
const MIB = 2 ** 20;
let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'mcpwarm-bench-pool-test-'));
});

afterAll(async () => {
  // A benchmark cut short by the test's timeout still runs: interrupt it so it tears down what it started.
  for (const { pid, cmdline } of await processesMentioning(`--work-dir ${base}`)) if (cmdline.includes('bench pool')) process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 90_000;
  while ((await processesMentioning(base)).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 500));
  await rm(base, { recursive: true, force: true });
});

describe('bench pool', () => {
  it('refuses bad options before starting anything', async () => {
    const run = await runCli(['bench', 'pool', '--rate', '0', '--size', '1.5', '--work-dir', base, '--json']);
    expect(run.code).toBe(2);
    expect(run.json).toMatchObject({ error: { code: 'USAGE_INVALID' } });
    expect((run.json as { error: { message: string } }).error.message).toMatch(/--rate.*--size/);
    expect(await readdir(base)).toEqual([]);
  });

  it('measures docker-cold (shared and empty engines), warm and hot side by side, an open loop and the RSS, and leaves nothing behind', async () => {
    const args = ['--rate', '2', '--duration', '2', '--size', '3', '--hot', '1', '--rounds', '1', '--warmup-rounds', '0', '--runner-count-for-rss', '1', '--server', 'fixture'];
    const runs = join(base, 'reports', 'runs');
    const run = await runCli(['bench', 'pool', ...args, '--hold-ms', '200', '--work-dir', base, '--out-dir', runs, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const result = run.json as PoolBenchResult;
    expect(result).toMatchObject({ benchmark: 'pool', config: { server: 'fixture', size: 3, hot: 1, rounds: 1, warmupRounds: 0, rssRunners: 1, holdMs: 200 } });
    expect(run.stderr).toContain('side by side, 1 rounds');

    // Side by side: each variant served the way it should be, and hot answers before a warm activation could.
    const { variants } = result.sideBySide;
    expect(result.sideBySide.failures).toEqual([]);
    // The warm runner had the image cached.
    expect(variants.warm!.samples).toEqual([expect.objectContaining({ round: 1, tier: 'warm', runnerCacheFilled: true })]);
    expect(variants.hot!.samples).toEqual([expect.objectContaining({ round: 1, tier: 'hot' })]);
    expect(variants.hot!.summary.p50).toBeGreaterThan(0);
    expect(variants.hot!.summary.p50).toBeLessThan(variants.warm!.summary.p50);

    // Docker: a real engine (required under CI), a real cold pull, run and initialize.
    if (CI || result.sideBySide.dockerSkipped === undefined) {
      expect(result.sideBySide.dockerSkipped).toBeUndefined();
      expect(result.machine.dockerEngine).toMatch(/^\d+\.\d+/);
      const [docker] = variants['docker-cold']!.samples;
      expect(docker).toMatchObject({ round: 1, imageAbsentBefore: true });
      for (const phase of ['pullMs', 'createMs', 'startMs', 'initializeMs']) expect(docker!.phases[phase]).toBeGreaterThan(0);
      expect(docker!.ms).toBeGreaterThan(docker!.phases.pullMs!);
      expect(result.sideBySide.dockerColdOverWarmP50).toBeCloseTo(variants['docker-cold']!.summary.p50 / variants.warm!.summary.p50, 6);
      // The engine with empty storage pulled every layer; it and its storage are gone afterwards.
      const [clean] = variants['docker-cold-clean']!.samples;
      expect(clean).toMatchObject({ round: 1, imageAbsentBefore: true, layersAlreadyPresent: 0 });
      expect(clean!.phases.pullMs).toBeGreaterThan(0);
      expect(result.sideBySide.dockerColdCleanOverWarmP50).toBeCloseTo(variants['docker-cold-clean']!.summary.p50 / variants.warm!.summary.p50, 6);
      expect(result.targets.find((t) => t.name.includes('empty storage'))?.measured).toBeCloseTo(result.sideBySide.dockerColdCleanOverWarmP50!, 6);
      expect((await processesMentioning('--data-root')).filter((p) => p.cmdline.includes('dockerd'))).toEqual([]);
      const engine = new Docker({ socketPath: dockerSocketPath() });
      const registry = result.config.image.reference.split('/')[0]!;
      expect((await engine.listContainers({ all: true })).filter((c) => c.Image.startsWith(registry))).toEqual([]);
      expect((await engine.listImages()).filter((i) => [...(i.RepoDigests ?? []), ...(i.RepoTags ?? [])].some((name) => name.startsWith(registry)))).toEqual([]);
    }

    // Open loop: the seeded schedule was offered in full, each arrival charged from its planned time.
    const { openLoop } = result;
    expect(openLoop.arrivals).toBe(poissonArrivals({ ratePerSecond: 2, durationMs: 2000, seed: 1 }).length);
    expect(openLoop.activated + Object.values(openLoop.errors).reduce((sum, n) => sum + n, 0)).toBe(openLoop.arrivals);
    expect(openLoop.byTier.hot?.count).toBeGreaterThanOrEqual(1);
    expect(Object.values(openLoop.byTier).reduce((sum, tier) => sum + tier.count, 0)).toBe(openLoop.activated);
    for (const outcome of openLoop.outcomes) {
      expect(outcome.sentMs).toBeGreaterThanOrEqual(outcome.plannedMs);
      expect(outcome.answeredMs).toBeGreaterThan(outcome.sentMs);
    }
    expect(openLoop.endToEndMs.min).toBeGreaterThan(0);
    expect(openLoop.refill.afterClaimMs.n).toBeGreaterThanOrEqual(1);
    expect(openLoop.refill.afterClaimMs.min).toBeGreaterThan(0);
    expect(openLoop.refill.runnerStartMs.min).toBeGreaterThan(0);
    expect(result.claimMs.n).toBeGreaterThanOrEqual(2);

    // RSS of a real controller and real agents.
    expect(result.rss).toMatchObject({ runners: 1, agentsMeasured: 1 });
    expect(result.rss.controllerBytes).toBeGreaterThan(20 * MIB);
    expect(result.rss.perRunnerAgentBytes).toBeGreaterThan(20 * MIB);

    expect(result.targets.map((t) => t.name)).toEqual(expect.arrayContaining([expect.stringMatching(/hot activation p99/), expect.stringMatching(/claim p99/)]));

    // The run directory: the results document with the side-by-side and open-loop variants.
    const [runId] = await readdir(runs);
    const document = JSON.parse(await readFile(join(runs, runId!, 'results.json'), 'utf8')) as { benchmark: string; variants: Array<{ name: string }> };
    expect(document.benchmark).toBe('pool');
    expect(document.variants.map((v) => v.name)).toEqual(expect.arrayContaining(['side-by-side/warm', 'side-by-side/hot', 'open-loop/hot']));

    // Nothing left: no process started from the work directory, and the scratch directory is gone.
    expect((await processesMentioning(base)).map((p) => `${p.pid}: ${p.cmdline}`)).toEqual([]);
    expect(await readdir(base)).toEqual(['reports']);
  });
});

/**
 * `bench image` is its shipped scenario run by the scenario engine: `bench run
 * scenarios/bench-image.scenario.yaml --quick` and `bench image --quick` write run directories of
 * the same shape (a real registry, real image builds, real pulls and skopeo), the command prints
 * the benchmark's result with the scenario's thresholds as its targets, and Ctrl-C stops a run,
 * removes what it started and writes nothing.
 */
import { mkdir, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageBenchResult } from '../harness/benchmarks/image-pipeline.js';
import { validateResults } from '../harness/results/build.js';
import type { ResultsDocument } from '../harness/results/schema.js';
import { findExecutable } from '../runner/exec.js';
import { interruptCli, runCli } from './support/cli.js';
import { processesMentioning } from './support/processes.js';

const missing = ['docker-registry', 'skopeo'].filter((tool) => findExecutable(tool) === undefined);
if (missing.length > 0 && process.env.CI === 'true') throw new Error(`CI=true and ${missing.join(', ')} not installed`);

let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'mcpwarm-bench-image-test-'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/** The run directory `latest` beside `runs` points at, its files and its results document. */
async function writtenRun(runs: string): Promise<{ files: string[]; document: ResultsDocument }> {
  const dir = resolve(join(runs, '..'), await readlink(join(runs, '..', 'latest')));
  expect(await readdir(runs)).toEqual([dir.split('/').pop()]);
  return { files: (await readdir(dir)).sort(), document: validateResults(JSON.parse(await readFile(join(dir, 'results.json'), 'utf8')), 'results.json') };
}

/** What a run directory's shape is made of: variants with their phases and sample counts, targets, options, facts. */
function shape(document: ResultsDocument) {
  return {
    benchmark: document.benchmark,
    variants: document.variants.map((v) => ({ name: v.name, label: v.label, n: v.summaryMs.n, phases: v.phases?.map((p) => p.name) })),
    targets: document.targets.map((t) => t.name),
    options: Object.keys(document.scenario.options).sort(),
    facts: Object.keys(document.facts ?? {}).sort(),
  };
}

describe.skipIf(missing.length > 0)('bench image through the scenario engine', () => {
  it('bench run scenarios/bench-image.scenario.yaml --quick writes a run of the same shape as bench image --quick', async () => {
    const dirs = { scenario: join(base, 'scenario'), command: join(base, 'command') };
    for (const dir of Object.values(dirs)) await mkdir(join(dir, 'work'), { recursive: true });
    const [scenario, command] = await Promise.all([
      runCli(['bench', 'run', 'scenarios/bench-image.scenario.yaml', '--quick', '--out', join(dirs.scenario, 'runs'), '--work-dir', join(dirs.scenario, 'work'), '--json']),
      runCli(['bench', 'image', '--quick', '--out-dir', join(dirs.command, 'runs'), '--work-dir', join(dirs.command, 'work'), '--json']),
    ]);
    // `bench image` exits 1 on a missed target only with --check; `bench run` always.
    expect(command.code, command.stderr).toBe(0);
    const fromScenario = await writtenRun(join(dirs.scenario, 'runs'));
    const fromCommand = await writtenRun(join(dirs.command, 'runs'));
    expect(scenario.code, scenario.stderr).toBe(fromScenario.document.targets.every((t) => t.met) ? 0 : 1);

    expect(fromScenario.files).toEqual(fromCommand.files);
    expect(fromCommand.files).toEqual(expect.arrayContaining(['latency-cdf.png', 'report.html', 'report.md', 'results.json']));
    expect(shape(fromScenario.document)).toEqual(shape(fromCommand.document));
    expect(shape(fromCommand.document)).toMatchObject({
      benchmark: 'image',
      variants: [
        { name: 'cold', n: 2, phases: ['resolve', 'pull', 'unpack after last byte', 'compose'] },
        { name: 'seed', n: 2, phases: ['skopeo copy', 'tar -xf'] },
        { name: 'cached', n: 2, phases: ['resolve', 'compose'] },
      ],
      // The scenario's thresholds, under the benchmark's names for its targets.
      targets: ['cold pull + unpack vs seed pipeline (p50 ratio)', 'rootfs ready for a cached image, compose p50 (ms)'],
    });
    // The quick profile: the fixture image.
    expect(fromCommand.document.scenario.options.spec).toMatch(/\/scenarios\/images\/fixture\.image\.yaml$/);
    // The run's scratch is under --work-dir.
    expect((fromCommand.document.facts as { storage: { dir: string } }).storage.dir.startsWith(join(dirs.command, 'work', 'mcpwarm-scenario-bench-image-'))).toBe(true);

    // stdout: bench run the results document, bench image the benchmark's result with the same targets.
    expect(validateResults(scenario.json, 'stdout').runId).toBe(fromScenario.document.runId);
    const result = command.json as ImageBenchResult;
    expect(result).toMatchObject({ benchmark: 'image', image: { layers: 3 } });
    expect(result.samples.cold.totalMs).toHaveLength(2);
    expect(result.targets.map((t) => [t.name, t.met])).toEqual(fromCommand.document.targets.map((t) => [t.name, t.met]));
    expect(result.targets[0]!.measured).toBeCloseTo(result.variants.seed.totalMs.p50 / result.variants.cold.totalMs.p50, 6);
    expect(result.targets.map((t) => t.expected)).toEqual(['speedup >= 2', 'p50 <= 15ms']);

    // The same report on stderr.
    for (const run of [scenario, command]) {
      expect(run.stderr).toMatch(/cold: pull \+ unpack \+ compose +\d/);
      expect(run.stderr).toMatch(/(MET   |MISSED) rootfs ready for a cached image, compose p50 \(ms\): /);
      expect(run.stderr).toMatch(/run written to .*; .*latest points at it/);
    }

    // Nothing left: no registry, an empty scratch.
    expect(await processesMentioning(base)).toEqual([]);
    for (const dir of Object.values(dirs)) expect(await readdir(join(dir, 'work'))).toEqual([]);
  }, 300_000);

  it('stops on Ctrl-C during the rounds: the registry stopped, the scratch removed, no run written, exit 130', async () => {
    const dir = join(base, 'interrupted');
    await mkdir(join(dir, 'work'), { recursive: true });
    const { code, stderr } = await interruptCli(['bench', 'image', '--quick', '--out-dir', join(dir, 'runs'), '--work-dir', join(dir, 'work')], /round 1\/2/, async () => {
      expect(await processesMentioning(join(dir, 'work'))).not.toEqual([]);
    });
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('SIGINT: stopping the run');
    expect(stderr).toContain('interrupted: everything the run started was stopped');
    expect(await processesMentioning(dir)).toEqual([]);
    expect(await readdir(join(dir, 'work'))).toEqual([]);
    await expect(readdir(join(dir, 'runs'))).rejects.toMatchObject({ code: 'ENOENT' });
  }, 300_000);
});

/**
 * Scenario files as users write them: every shipped scenario loads and plans (full and --quick),
 * the benchmark commands plan their shipped scenarios with their flags as options, and the loader
 * reports YAML errors, missing image specs and bad traces with their fields, all at once, through
 * the CLI's --dry-run with exit status 2.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadScenario } from '../harness/scenario/loader.js';
import { planScenario } from '../harness/scenario/plan.js';
import { runCli } from './support/cli.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcpwarm-scenario-schema-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('shipped scenarios', async () => {
  const files = (await readdir('scenarios')).filter((name) => name.endsWith('.scenario.yaml'));

  it('ships cold-vs-warm, pool-burst, gateway-load, stdio-strategies and a scenario per benchmark', () => {
    expect(files.sort()).toEqual(
      expect.arrayContaining([
        'cold-vs-warm.scenario.yaml',
        'gateway-load.scenario.yaml',
        'pool-burst.scenario.yaml',
        'stdio-strategies.scenario.yaml',
        'bench-image.scenario.yaml',
        'bench-activation.scenario.yaml',
        'bench-pool.scenario.yaml',
        'bench-strategies.scenario.yaml',
      ]),
    );
  });

  for (const file of files) {
    it(`${file} loads and plans, full and quick`, async () => {
      const loaded = await loadScenario(join('scenarios', file));
      const full = planScenario(loaded.scenario, { quick: false });
      const quick = planScenario(loaded.scenario, { quick: true });
      if (full.wholeRun) {
        // The benchmark interleaves its variants itself; its targets are the thresholds.
        expect(full.trials).toEqual([]);
        expect(quick.variants.length).toBeGreaterThan(0);
        expect(quick.variants.length).toBeLessThanOrEqual(full.variants.length);
        expect(full.thresholds.length).toBeGreaterThan(0);
        expect(quick.spec).not.toEqual(full.spec);
      } else {
        expect(full.trials.length).toBeGreaterThan(0);
        expect(quick.trials.filter((t) => !t.warmup).length).toBeLessThanOrEqual(full.trials.filter((t) => !t.warmup).length);
      }
      for (const spec of Object.values(loaded.imageSpecs)) expect(spec).toMatch(/\/scenarios\/images\/.+\.image\.yaml$/);
    });
  }
});

describe('benchmark commands', () => {
  it('plan their shipped scenario as bench run does, with flags winning over the file and its quick profile', async () => {
    const [command, scenario] = await Promise.all([
      runCli(['bench', 'pool', '--quick', '--size', '5', '--server', 'everything', '--dry-run', '--json']),
      runCli(['bench', 'run', 'scenarios/bench-pool.scenario.yaml', '--quick', '--dry-run', '--json']),
    ]);
    expect(command.code, command.stderr).toBe(0);
    expect(scenario.code, scenario.stderr).toBe(0);
    expect(command.stderr).toContain('the benchmark, which interleaves its variants itself in random order:');
    expect(command.stderr).toContain('thresholds: warm-vs-docker-cold-clean: speedup >= 5; side-by-side/hot: p99 <= 10ms; open-loop/hot: p99 <= 10ms; claim: p99 <= 5ms');
    const planned = (run: typeof command) => run.json as { scenario: string; wholeRun: boolean; quick: boolean; spec: { options: Record<string, unknown> } };
    expect(planned(scenario)).toMatchObject({ scenario: 'bench-pool', wholeRun: true, quick: true, spec: { options: { server: 'fixture', size: 4, rounds: 2, rate: 1 } } });
    expect(planned(command).spec.options).toEqual({ ...planned(scenario).spec.options, size: 5, server: 'everything' });
  });

  it('refuse bad flags as usage errors naming every flag, before anything starts', async () => {
    const refused = await runCli(['bench', 'activation', '--runs', '0', '--sandbox', '', '--json']);
    expect(refused.code).toBe(2);
    expect(refused.json).toMatchObject({
      error: { code: 'USAGE_INVALID', details: { problems: ['--runs: expected a whole number >= 1, not 0', '--sandbox: expected a sandbox (auto picks the strongest available)'] } },
    });
  });
});

describe('scenario loading errors', () => {
  it('reports YAML syntax errors with the line', async () => {
    const file = join(dir, 'broken.scenario.yaml');
    await writeFile(file, 'name: x\ndriver: [unclosed\n');
    await expect(loadScenario(file)).rejects.toMatchObject({ code: 'SCENARIO_INVALID', message: expect.stringMatching(/expected valid YAML: .*line/) });
  });

  it('reports a missing image spec and a bad trace together with schema problems', async () => {
    await writeFile(join(dir, 'trace.txt'), '0\n20\n10\n');
    const file = join(dir, 'files.scenario.yaml');
    await writeFile(
      file,
      [
        'name: files',
        'driver: pool',
        'images: [{ name: fixture, spec: nosuch.image.yaml }]',
        'image: fixture',
        'variants: [{ name: a, size: 2 }]',
        'workload: { open: { pattern: trace, file: trace.txt }, count: 3 }',
      ].join('\n'),
    );
    const error = (await loadScenario(file).then(
      () => undefined,
      (e: unknown) => e,
    )) as { code: string; details: { problems: Array<{ path: string; message: string }> } };
    expect(error.code).toBe('SCENARIO_INVALID');
    expect(error.details.problems).toEqual([
      { path: 'images[0].spec', message: expect.stringMatching(/^expected an image spec file \(.*nosuch\.image\.yaml does not exist\)$/) },
      { path: 'workload.open.file', message: expect.stringMatching(/trace offsets must ascend/) },
    ]);
  });

  it('--dry-run prints every problem and exits 2; a good scenario prints its plan and exits 0', async () => {
    const bad = join(dir, 'bad.scenario.yaml');
    await writeFile(bad, 'name: Bad\ndriver: pool\nvariants: [{name: a, size: 0}]\nworkload: {open: {pattern: burst, size: 2}, count: 2}\nfoo: 1\n');
    const refused = await runCli(['bench', 'run', bad, '--dry-run', '--json']);
    expect(refused.code).toBe(2);
    expect(refused.json).toMatchObject({ error: { code: 'SCENARIO_INVALID' } });
    expect((refused.json as { error: { details: { problems: unknown[] } } }).error.details.problems).toHaveLength(5);
    expect(refused.stderr).toContain('variants[0].size: expected a pool size from 1 to 64');
    expect(refused.stderr).toContain('foo: unknown key (expected one of: name, description, driver');

    const planned = await runCli(['bench', 'run', 'scenarios/cold-vs-warm.scenario.yaml', '--dry-run', '--quick', '--json']);
    expect(planned.code).toBe(0);
    expect(planned.stderr).toContain('services, started in this order and stopped in reverse:');
    expect(planned.json).toMatchObject({ scenario: 'cold-vs-warm', quick: true, driver: 'activation' });
  });
});

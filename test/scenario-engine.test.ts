/**
 * `mcpwarm bench run` end to end on a tiny scenario with --quick: the registry, a shaped link, the
 * fixture image and two runner agents stood up, every variant run, the run directory written
 * (results.json valid, reports, charts, `latest`), a missed threshold giving exit 1, and nothing
 * left running afterwards; and Ctrl-C while a run stands up stopping everything it started.
 */
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findExecutable, run } from '../runner/exec.js';
import { validateResults } from '../harness/results/build.js';
import { interruptCli, runCli } from './support/cli.js';
import { processesMentioning } from './support/processes.js';

const missing = findExecutable('docker-registry') === undefined;
if (missing && process.env.CI === 'true') throw new Error('CI=true and docker-registry is not installed');

let dir: string;
let scenario: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcpwarm-scenario-engine-'));
  await mkdir(join(dir, 'work'));
  scenario = join(dir, 'tiny.scenario.yaml');
  await writeFile(
    scenario,
    [
      'name: tiny',
      'driver: activation',
      `images: [{ name: fixture, spec: ${resolve('scenarios/images/fixture.image.yaml')} }]`,
      'registry: { links: [local, { name: fast, bandwidth: 500mbit, rtt: 10ms }] }',
      'variants:',
      '  - { name: cached, mode: agent-cached, image: fixture }',
      '  - { name: uncached, mode: agent-uncached, image: fixture }',
      'repetitions: 5',
      'thresholds: ["errors < 1%", "cached/local: p50 < 0.001ms"]',
      'quick: { repetitions: 1, warmup: 0 }',
    ].join('\n'),
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function refused(address: string): Promise<boolean> {
  const [host, port] = address.split(':');
  return new Promise((done) => {
    const socket = connect(Number(port), host);
    socket.once('connect', () => {
      socket.destroy();
      done(false);
    });
    socket.once('error', () => done(true));
  });
}

async function loopbackFilters(): Promise<string> {
  const tc = findExecutable('tc');
  return tc ? run(tc, ['filter', 'show', 'dev', 'lo']).catch(() => '') : '';
}

describe.skipIf(missing)('bench run', () => {
  it('runs a tiny scenario with --quick, writes the run and leaves nothing running', async () => {
    const result = await runCli(['bench', 'run', scenario, '--quick', '--out', join(dir, 'reports', 'runs'), '--work-dir', join(dir, 'work'), '--json']);
    // The impossible threshold is missed: the run is written and the exit status says so.
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/MISSED cached\/local: p50 \(ms\)/);
    expect(result.stderr).toMatch(/MET {4}cached\/fast: errors \(%\)/);
    const document = validateResults(result.json, 'stdout');
    expect(document.variants.map((v) => v.name).sort()).toEqual(['cached/fast', 'cached/local', 'uncached/fast', 'uncached/local']);
    expect(document.variants.every((v) => v.summaryMs.n === 1)).toBe(true);
    const uncached = document.variants.find((v) => v.name === 'uncached/local')!;
    expect(uncached.phases?.map((p) => p.name)).toEqual(expect.arrayContaining(['resolveMs', 'pullMs', 'unpackMs', 'startMs', 'initializeMs']));

    const latest = join(dir, 'reports', 'latest');
    const runDir = resolve(join(dir, 'reports'), await readlink(latest));
    expect(runDir).toBe(join(dir, 'reports', 'runs', document.runId));
    expect((await readdir(runDir)).sort()).toEqual(expect.arrayContaining(['latency-cdf.png', 'report.html', 'report.md', 'results.json']));
    expect(validateResults(JSON.parse(await readFile(join(runDir, 'results.json'), 'utf8')), 'results.json').runId).toBe(document.runId);

    // Torn down: no process of the run, an empty scratch, the shaped link closed with its tc classes.
    expect(await processesMentioning(dir)).toEqual([]);
    expect(await readdir(join(dir, 'work'))).toEqual([]);
    const link = (document.facts!.links as Array<{ name: string; method: string; address?: string }>).find((l) => l.name === 'fast')!;
    expect(['netns-veth-tbf+proxy', 'tc-htb+proxy', 'proxy']).toContain(link.method);
    const port = Number(/link fast at 127\.0\.0\.1:(\d+)/.exec(result.stderr)![1]);
    expect(await refused(`127.0.0.1:${port}`)).toBe(true);
    const hex = port.toString(16).padStart(4, '0');
    expect(await loopbackFilters()).not.toMatch(new RegExp(`${hex}0000/ffff0000|0000${hex}/0000ffff`));
  });

  it('stops everything on Ctrl-C while the run stands up and exits 130', async () => {
    // Interrupted while it stands up: the registry, the shaped link and an agent run, the second agent is starting.
    const { code, stderr } = await interruptCli(['bench', 'run', scenario, '--quick', '--out', join(dir, 'interrupted', 'runs'), '--work-dir', join(dir, 'work')], /agent-cached at /);
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('SIGINT: stopping the run');
    expect(stderr).toContain('tearing down');
    expect(await processesMentioning(dir)).toEqual([]);
    expect(await readdir(join(dir, 'work'))).toEqual([]);
    await expect(readdir(join(dir, 'interrupted', 'runs'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

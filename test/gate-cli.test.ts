/**
 * `mcpwarm gate` and `mcpwarm compare` on synthetic results files: exit 0 without a regression, 1
 * with one, 2 on bad input; the Markdown verdict and the JSON report.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../harness/measure/prng.js';
import { buildResults } from '../harness/results/build.js';
import { resultsJson } from '../harness/report/run-dir.js';
import { runCli } from './support/cli.js';

const MACHINE = { cpuModel: 'test CPU', cores: 2, memoryBytes: 2 ** 33, kernel: '6.1.0', node: 'v20.20.0', cgroup: { version: 'none' as const }, loadAverage1m: 0.5 };

function lognormal(random: () => number, n: number, median: number, sigma: number): number[] {
  return Array.from({ length: n }, () => median * Math.exp(sigma * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())));
}

let dir: string;
const files: Record<string, string> = {};

async function writeRun(name: string, variants: Record<string, number[]>): Promise<void> {
  const document = buildResults({
    benchmark: 'activation',
    startedAt: new Date().toISOString(),
    machine: MACHINE,
    variants: Object.entries(variants).map(([variant, samplesMs]) => ({ variant, label: variant.replace('/', ': '), samplesMs })),
  });
  files[name] = join(dir, `${name}.json`);
  await writeFile(files[name], resultsJson(document));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcpwarm-gate-cli-'));
  const random = seededRandom(7);
  const warm = lognormal(random, 30, 100, 0.1);
  const cold = lognormal(random, 30, 480, 0.08);
  await writeRun('baseline', { 'fixture/warm': warm, 'fixture/cold': cold });
  await writeRun('same', { 'fixture/warm': warm, 'fixture/cold': cold });
  await writeRun('slower', { 'fixture/warm': warm.map((x) => x * 1.2), 'fixture/cold': cold });
  await writeRun('other', { 'everything/warm': warm });
  await writeFile(join(dir, 'not-json.json'), '{ nope');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('mcpwarm gate', () => {
  it('exits 0 with no regression on identical samples', async () => {
    const result = await runCli(['gate', '--baseline', files.baseline!, '--candidate', files.same!, '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('### mcpwarm gate: no regression (4 metrics)');
    const report = result.json as { regression: boolean; results: Array<{ variant: string; metric: string; verdict: string }> };
    expect(report.regression).toBe(false);
    expect(report.results.map((r) => `${r.variant}:${r.metric}=${r.verdict}`)).toEqual([
      'fixture/warm:p50=no change',
      'fixture/warm:p90=no change',
      'fixture/cold:p50=no change',
      'fixture/cold:p90=no change',
    ]);
  });

  it('exits 1 on +20% and writes the Markdown verdict', async () => {
    const verdictFile = join(dir, 'verdict.md');
    const result = await runCli(['gate', '--baseline', files.baseline!, '--candidate', files.slower!, '--metric', 'fixture/warm:p50', '--metric', 'fixture/cold:p50', '--markdown', verdictFile]);
    expect(result.code, result.stderr).toBe(1);
    const markdown = await readFile(verdictFile, 'utf8');
    expect(result.stderr).toContain(markdown.trim());
    expect(markdown).toContain('### mcpwarm gate: REGRESSION (1 of 2 metrics)');
    expect(markdown).toMatch(/\| fixture: warm p50 +\| .*\| \+20\.0% \(\+\d+\.\d% to \+\d+\.\d%\) \| \*\*REGRESSION\*\* \| slower by/);
    expect(markdown).toMatch(/\| fixture: cold p50 +\| .*\| no change +\|/);
  });

  it('gates p99 on an absolute limit', async () => {
    const over = await runCli(['gate', '--baseline', files.baseline!, '--candidate', files.same!, '--metric', 'fixture/warm:p50', '--p99-max', 'fixture/warm=50']);
    expect(over.code, over.stderr).toBe(1);
    expect(over.stderr).toMatch(/fixture: warm p99 .*limit 50\.0 ms .*\*\*REGRESSION\*\*/);
    const under = await runCli(['gate', '--baseline', files.baseline!, '--candidate', files.same!, '--p99-max', 'fixture/warm=5000']);
    expect(under.code, under.stderr).toBe(0);
  });

  it('exits 2 on bad input, naming the problem', async () => {
    // Each refusal below comes from a different layer: arguments, reading files, the gate, git, calibration.
    const cases: Array<[string[], string]> = [
      [['gate', '--baseline', files.baseline!], 'give --baseline FILE and --candidate FILE, or --base-rev REV'],
      [['gate', '--baseline', join(dir, 'not-json.json'), '--candidate', files.same!], 'is not JSON'],
      [['gate', '--baseline', files.baseline!, '--candidate', files.same!, '--metric', 'fixture/nope:p50'], 'variant fixture/nope is not in the baseline'],
      [['gate', '--base-rev', 'no-such-revision-anywhere'], 'is not a revision'],
      [['gate', 'calibrate', '--runs', '3'], '--runs 3'],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args)));
    cases.forEach(([args, message], i) => {
      expect(results[i]!.code, `${args.join(' ')}\n${results[i]!.stderr}`).toBe(2);
      expect(results[i]!.stderr, args.join(' ')).toContain(message);
    });
  });
});

describe('mcpwarm compare', () => {
  it('prints both runs side by side with intervals of the ratio', async () => {
    const result = await runCli(['compare', files.baseline!, files.slower!, '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/\| fixture: warm +\| +30\/30 \|.*\| 1\.200 \[1\.\d+, 1\.\d+\] \|/);
    // 30 samples are too few for a distribution-free p99 interval: the ratio comes without one.
    expect(result.stderr).toMatch(/\| fixture: cold +\| +30\/30 \|.*\| 1\.000 \[\d\.\d+, \d\.\d+\] \|.*\| 1\.000 +\|$/m);
    const comparison = result.json as { variants: Array<{ variant: string; quantiles: { p50: { ratio: number; low: number; high: number } } }> };
    const warm = comparison.variants.find((v) => v.variant === 'fixture/warm')!;
    expect(warm.quantiles.p50.ratio).toBeCloseTo(1.2, 10);
    expect(warm.quantiles.p50.low).toBeGreaterThan(1);
  });

  it('exits 2 on runs with nothing in common', async () => {
    const result = await runCli(['compare', files.baseline!, files.other!]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no variant in common');
  });
});

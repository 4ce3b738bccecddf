/**
 * Reports rendered for real: run directories with results.json, report.md, report.html and PNG
 * charts drawn by Chart.js on @napi-rs/canvas (decoded again and sampled), `reports/latest`
 * replaced atomically, and `mcpwarm report` re-rendering a results file.
 */
import { lstat, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCanvas, loadImage } from '@napi-rs/canvas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildResults } from '../harness/results/build.js';
import type { ResultsDocument } from '../harness/results/schema.js';
import { writeRun } from '../harness/report/run-dir.js';
import { runCli } from './support/cli.js';

const MACHINE = { cpuModel: 'test CPU', cores: 2, memoryBytes: 2 ** 34, kernel: '6.1.0', node: 'v20.20.0', cgroup: { version: 1 as const, cpuQuota: 1.5 }, gitRevision: '0123456789abcdef', gitDirty: true, loadAverage1m: 1.2 };

function ramp(n: number, from: number, to: number): number[] {
  return Array.from({ length: n }, (_, i) => from + ((to - from) * ((i * 37) % n)) / n);
}

function sampleDocument(): ResultsDocument {
  return buildResults({
    benchmark: 'activation',
    scenario: { options: { runs: 30, sandbox: 'runc', servers: ['fixture'] } },
    startedAt: '2026-01-05T10:11:12.000Z',
    machine: MACHINE,
    variants: [
      { variant: 'fixture/bare', label: 'fixture: bare spawn | host', samplesMs: ramp(30, 60, 110) },
      { variant: 'fixture/warm', label: 'fixture: agent, image cached', samplesMs: ramp(30, 85, 140), phases: { resolve: ramp(30, 2, 4), mount: ramp(30, 8, 12), start: ramp(30, 45, 60), initialize: ramp(30, 25, 35) } },
      { variant: 'fixture/cold', label: 'fixture: agent, image not cached', samplesMs: ramp(1500, 400, 700), phases: { pull: ramp(1500, 250, 400), start: ramp(1500, 45, 60) } },
    ],
    series: [
      { id: 'pool-occupancy', title: 'Pool occupancy over time', x: { label: 'time', unit: 's' }, y: { label: 'runners', unit: 'count' }, stepped: true, lines: [{ name: 'warm', points: [[0, 4], [1.5, 3], [2, 4], [5, 2]] }, { name: 'claimed', points: [[0, 0], [1.5, 1], [5, 2]] }] },
      { id: 'latency-vs-load', title: 'Latency against offered load', x: { label: 'offered load', unit: 'activations/s' }, y: { label: 'latency', unit: 'ms' }, lines: [{ name: 'p50', points: [[1, 90], [2, 95], [4, 130]] }, { name: 'p99', points: [[1, 120], [2, 150], [4, 400]] }] },
    ],
    targets: [
      { name: 'fixture: activation overhead p50, cached (ms)', expected: '<= 20 ms', measured: 25.1, met: false },
      { name: 'idle agent RSS (MiB)', expected: '<= 80 MiB', measured: 70, met: true },
    ],
  });
}

/** Width and height from the IHDR chunk, after checking the PNG signature. */
function pngDimensions(png: Buffer): { width: number; height: number } {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** Distinct colours on a grid of pixels of the decoded image: a blank or flat chart has one or two. */
async function distinctColours(png: Buffer): Promise<number> {
  const image = await loadImage(png);
  const canvas = createCanvas(image.width, image.height);
  const context = canvas.getContext('2d');
  context.drawImage(image, 0, 0);
  const { data } = context.getImageData(0, 0, image.width, image.height);
  const colours = new Set<number>();
  for (let y = 0; y < image.height; y += 3) {
    for (let x = 0; x < image.width; x += 3) {
      const i = (y * image.width + x) * 4;
      colours.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
    }
  }
  return colours.size;
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mcpwarm-report-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('run directories', () => {
  let dir: string;
  const document = sampleDocument();

  beforeAll(async () => {
    ({ dir } = await writeRun(document, { runsDir: join(root, 'reports', 'runs') }));
  });

  it('holds the results, both reports and a chart per kind of figure', async () => {
    expect(dir).toBe(join(root, 'reports', 'runs', document.runId));
    expect((await readdir(dir)).sort()).toEqual(['latency-cdf.png', 'latency-vs-load.png', 'phases.png', 'pool-occupancy.png', 'report.html', 'report.md', 'results.json']);
    expect(JSON.parse(await readFile(join(dir, 'results.json'), 'utf8'))).toEqual(document);
    // Nothing half-written is left beside it.
    expect(await readdir(join(root, 'reports', 'runs'))).toEqual([document.runId]);
  });

  it('draws PNGs that decode, have the canvas size and are not one flat colour', async () => {
    for (const file of ['latency-cdf.png', 'phases.png', 'pool-occupancy.png', 'latency-vs-load.png']) {
      const png = await readFile(join(dir, file));
      expect(pngDimensions(png)).toEqual({ width: 960, height: 540 });
      expect(await distinctColours(png), file).toBeGreaterThan(20);
    }
  });

  it('writes a self-contained HTML page with every chart inline', async () => {
    const html = await readFile(join(dir, 'report.html'), 'utf8');
    expect(html).not.toMatch(/\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i);
    expect(html).not.toMatch(/url\(\s*["']?(?:https?:)?\/\//i);
    expect(html).not.toMatch(/<script|<link/i);
    expect(html.match(/<img [^>]*src="data:image\/png;base64,/g)).toHaveLength(4);
    expect(html).toContain('fixture: bare spawn | host');
    expect(html).toContain('PASS');
  });

  it('writes Markdown tables fit for a pull-request comment', async () => {
    const markdown = await readFile(join(dir, 'report.md'), 'utf8');
    expect(markdown).toContain(`## mcpwarm bench activation: run ${document.runId}`);
    expect(markdown).toMatch(/\| variant +\| +n \| p50 \(ms\) \|/);
    expect(markdown).toContain('fixture: bare spawn \\| host');
    expect(markdown).toMatch(/\| fixture: agent, image not cached +\| +1500 \|/);
    expect(markdown).toContain('### Targets: 1 missed');
    expect(markdown).toMatch(/\| MISS \| fixture: activation overhead p50/);
    expect(markdown).toContain('test CPU, 2 cores, 16 GiB, kernel 6.1.0, Node v20.20.0, cgroup v1 (1.50 CPUs), load 1.20');
    expect(markdown).toContain('revision 0123456789ab (with uncommitted changes)');
  });

  it('points latest at the newest run, replacing the link', async () => {
    const latest = join(root, 'reports', 'latest');
    expect((await lstat(latest)).isSymbolicLink()).toBe(true);
    expect(await readlink(latest)).toBe(`runs/${document.runId}`);
    const next = await writeRun(sampleDocument(), { runsDir: join(root, 'reports', 'runs') });
    expect(await readlink(latest)).toBe(`runs/${next.dir.split('/').pop()}`);
    expect((await readdir(join(root, 'reports'))).sort()).toEqual(['latest', 'runs']);
  });

  it('refuses to overwrite a run', async () => {
    await expect(writeRun(document, { runsDir: join(root, 'reports', 'runs') })).rejects.toMatchObject({ code: 'USAGE_INVALID' });
  });
});

describe('mcpwarm report', () => {
  it('re-renders a results file into another directory', async () => {
    const source = join(root, 'source');
    const { dir } = await writeRun(sampleDocument(), { runsDir: source });
    const out = join(root, 'rerendered');
    const result = await runCli(['report', join(dir, 'results.json'), '--out', out, '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.json).toMatchObject({ dir: out });
    expect((await readdir(out)).sort()).toEqual(['latency-cdf.png', 'latency-vs-load.png', 'phases.png', 'pool-occupancy.png', 'report.html', 'report.md', 'results.json']);
    expect(await readFile(join(out, 'report.md'), 'utf8')).toBe(await readFile(join(dir, 'report.md'), 'utf8'));
  });

  it('refuses a file that is not a results document with exit 2 and writes nothing', async () => {
    const bad = join(root, 'bad.json');
    await writeFile(bad, JSON.stringify({ schemaVersion: 1, runId: 'x', variants: [] }));
    const out = join(root, 'never');
    const result = await runCli(['report', bad, '--out', out]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error RESULTS_INVALID');
    expect(result.stderr).toContain('variants');
    await expect(lstat(out)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

/**
 * Run directories: `reports/runs/<id>/{results.json, report.md, report.html, *.png}`, with
 * `reports/latest` (next to the runs directory) a symlink to the newest. A run directory appears
 * complete or not at all (written aside, then renamed into place), and the symlink is replaced
 * atomically (a new link renamed over the old one).
 */
import { randomBytes } from 'node:crypto';
import { access, chmod, mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { McpWarmError } from '../../runner/errors.js';
import type { ResultsDocument } from '../results/schema.js';
import { renderHtml } from './html.js';
import { renderMarkdown } from './markdown.js';

export const DEFAULT_RUNS_DIR = 'reports/runs';

export function resultsJson(document: ResultsDocument): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** Renders report.md, report.html and the PNG charts into `dir`; returns the file names written. */
export async function renderReportInto(document: ResultsDocument, dir: string): Promise<string[]> {
  // Chart.js and the canvas take ~150 ms to load: only commands that draw load them.
  const { renderCharts } = await import('./charts.js');
  const charts = await renderCharts(document);
  await mkdir(dir, { recursive: true });
  for (const chart of charts) await writeFile(join(dir, chart.file), chart.png);
  await writeFile(join(dir, 'report.md'), renderMarkdown(document, charts.map((c) => c.file)));
  await writeFile(join(dir, 'report.html'), renderHtml(document, charts));
  return ['report.md', 'report.html', ...charts.map((c) => c.file)];
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Points `link` at `target` (relative, so the tree can move) by renaming a fresh link over it. */
async function replaceSymlink(link: string, target: string): Promise<void> {
  const fresh = `${link}.tmp-${randomBytes(4).toString('hex')}`;
  await symlink(relative(dirname(link), target), fresh);
  try {
    await rename(fresh, link);
  } catch (error) {
    await rm(fresh, { force: true });
    throw new McpWarmError('USAGE_INVALID', `cannot point ${link} at the new run: ${(error as Error).message} (is it a directory?)`, { cause: error });
  }
}

export interface WrittenRun {
  dir: string;
  files: string[];
  latest: string;
}

/** Writes the run's directory under `runsDir` (default reports/runs) and points `latest` beside it at it. */
export async function writeRun(document: ResultsDocument, options: { runsDir?: string } = {}): Promise<WrittenRun> {
  const runsDir = resolve(options.runsDir ?? DEFAULT_RUNS_DIR);
  const dir = join(runsDir, document.runId);
  if (await exists(dir)) throw new McpWarmError('USAGE_INVALID', `${dir} already exists: run ids are unique, give the run another one`);
  await mkdir(runsDir, { recursive: true });
  const staging = await mkdtemp(join(runsDir, `.${document.runId}.tmp-`));
  let files: string[];
  try {
    // mkdtemp makes it private; a run directory is as readable as any other report.
    await chmod(staging, 0o755);
    await writeFile(join(staging, 'results.json'), resultsJson(document));
    files = ['results.json', ...(await renderReportInto(document, staging))];
    await rename(staging, dir);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  const latest = join(dirname(runsDir), 'latest');
  await replaceSymlink(latest, dir);
  return { dir, files, latest };
}

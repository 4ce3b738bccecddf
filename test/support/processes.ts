/** The machine's processes, read from /proc, for tests that check what a run left behind. */
import { readdir, readFile } from 'node:fs/promises';

export interface ProcessEntry {
  pid: number;
  /** Arguments joined with spaces. */
  cmdline: string;
}

/** Live processes other than this one whose command line contains `needle` (a run's directory names its agents, registries and servers). */
export async function processesMentioning(needle: string): Promise<ProcessEntry[]> {
  const found: ProcessEntry[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ').trim();
    if (cmdline.includes(needle)) found.push({ pid: Number(entry), cmdline });
  }
  return found;
}

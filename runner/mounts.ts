/** The mount table, for cleanup that must leave no mount behind (and for tests that check it). */
import { readFile } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { findExecutable, run } from './exec.js';

/** Mount points listed in /proc/self/mountinfo (octal escapes such as \040 decoded). */
export async function mountPoints(): Promise<string[]> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  return table
    .split('\n')
    .filter(Boolean)
    .map((line) => (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))));
}

/** Mount points at or below `dir`, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const root = resolve(dir);
  return (await mountPoints())
    .filter((point) => point === root || point.startsWith(root + sep))
    .sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or below `dir` (lazily when busy); returns what was mounted. */
export async function unmountUnder(dir: string): Promise<string[]> {
  const points = await mountsUnder(dir);
  const umount = findExecutable('umount') ?? 'umount';
  for (const point of points) {
    await run(umount, [point]).catch(() => run(umount, ['-l', point]));
  }
  return points;
}

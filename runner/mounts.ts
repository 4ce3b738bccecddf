/** The mount table and unmounting: cleanup must leave no mount behind (tests check the same table). */
import { readFileSync, realpathSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpWarmError } from './errors.js';
import { requireExecutable, run } from './exec.js';

const UNMOUNT_ATTEMPTS = 5;

/** Mount points of this process's mount namespace, decoded from /proc/self/mountinfo (octal escapes such as \\040). */
export function mountPoints(): Set<string> {
  const points = new Set<string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const field = line.split(' ')[4];
    if (field !== undefined) points.add(field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))));
  }
  return points;
}

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const root = resolve(dir);
  return [...mountPoints()].filter((point) => point === root || point.startsWith(root + sep)).sort((a, b) => b.length - a.length);
}

/**
 * Unmounts `target` if it is mounted, retrying while it is busy; a lazy unmount (detach now,
 * clean up when the last user leaves) is the last resort.
 */
export async function unmount(target: string): Promise<void> {
  // mountinfo shows canonical paths.
  let path: string;
  try {
    path = realpathSync(target);
  } catch {
    return; // nothing there, nothing mounted
  }
  const umount = requireExecutable('umount', 'mount');
  for (let attempt = 1; mountPoints().has(path); attempt += 1) {
    try {
      await run(umount, attempt < UNMOUNT_ATTEMPTS ? [path] : ['-l', path]);
    } catch (error) {
      if (attempt >= UNMOUNT_ATTEMPTS) {
        throw new McpWarmError('ROOTFS_COMPOSE_FAILED', `cannot unmount ${path}: ${(error as Error).message}`, { cause: error });
      }
      await sleep(20 * attempt);
    }
  }
}

/** Unmounts everything at or below `dir`, deepest first; returns what was mounted. */
export async function unmountUnder(dir: string): Promise<string[]> {
  const points = mountsUnder(dir);
  for (const point of points) await unmount(point);
  return points;
}

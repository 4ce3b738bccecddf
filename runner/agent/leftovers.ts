/**
 * What an agent that is gone (killed, or stopped before its instances were down) can leave under
 * its cache: sandboxed servers still running and their rootfs mounts. Used by an agent starting on
 * a cache a predecessor used, and by substrates destroying a runner.
 */
import { readdir } from 'node:fs/promises';
import { unmountUnder } from '../mounts.js';
import { allSandboxes, sandboxReport } from '../sandbox/registry.js';

export async function sweepInstances(instancesDir: string): Promise<void> {
  const leftover = await readdir(instancesDir).catch(() => [] as string[]);
  if (leftover.length > 0) {
    for (const entry of await sandboxReport()) {
      if (entry.available) await allSandboxes().find((s) => s.name === entry.name)!.sweep(leftover);
    }
  }
  await unmountUnder(instancesDir);
}

/** A registry with the fixture (and optionally the everything) image pushed, for agent tests and benchmarks. */
import { mkdtemp, rm, chmod, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalRegistry, type LocalRegistry } from '../../harness/cluster/local-registry.js';
import { buildAndPublish } from '../../runner/oci/build/publish.js';

export interface ImageFixture {
  work: string;
  registry: LocalRegistry;
  fixture: string;
  close(): Promise<void>;
}

export async function imageFixture(prefix: string): Promise<ImageFixture> {
  const work = await mkdtemp(join(tmpdir(), prefix));
  // Servers run as uid 1000 and must be able to enter their rootfs below this directory.
  await chmod(work, 0o755);
  const registry = await startLocalRegistry({ dir: join(work, 'registry'), port: 0 });
  const fixture = (await buildAndPublish('scenarios/images/fixture.image.yaml', { tag: `${registry.address}/mcp/fixture:1`, push: true })).reference;
  return {
    work,
    registry,
    fixture,
    close: async () => {
      await registry.stop();
      await rm(work, { recursive: true, force: true });
    },
  };
}

/**
 * Processes descending from this one (test files run in processes of their own), with their
 * command lines, except those whose command line contains one of `except` (the registry).
 */
export async function descendantProcesses(except: string[] = ['docker-registry']): Promise<Array<{ pid: number; cmdline: string }>> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // exited meanwhile
    }
  }
  const found: Array<{ pid: number; cmdline: string }> = [];
  for (const pid of parents.keys()) {
    let ancestor = parents.get(pid);
    while (ancestor !== undefined && ancestor > 1 && ancestor !== process.pid) ancestor = parents.get(ancestor);
    if (ancestor !== process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').then((text) => text.replace(/\0/g, ' ').trim(), () => '');
    if (cmdline !== '' && !except.some((needle) => cmdline.includes(needle))) found.push({ pid, cmdline });
  }
  return found;
}

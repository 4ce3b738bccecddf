/**
 * A process and everything it started, read from /proc: the resident memory of the whole tree
 * (a gateway, its wrappers and its servers) and how many servers run in it. Servers are the
 * processes whose command line carries a marker argument, innermost ones only, so a `sh -c`
 * wrapper around a server is memory of the tree but not a second server.
 */
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { rssBytes } from '../measure/rss.js';

export interface ProcessEntry {
  pid: number;
  ppid: number;
}

/** Every process's parent, from /proc/PID/stat (processes that vanish while being read are left out). */
export async function listProcesses(): Promise<ProcessEntry[]> {
  const entries = await Promise.all(
    (await readdir('/proc'))
      .filter((name) => /^\d+$/.test(name))
      .map(async (name) => {
        const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => undefined);
        if (stat === undefined) return undefined;
        // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return { pid: Number(name), ppid };
      }),
  );
  return entries.filter((entry): entry is ProcessEntry => entry !== undefined);
}

/** `root` and its descendants, parents before children. */
export function treeOf(processes: readonly ProcessEntry[], root: number): number[] {
  const children = new Map<number, number[]>();
  for (const { pid, ppid } of processes) {
    const siblings = children.get(ppid);
    if (siblings) siblings.push(pid);
    else children.set(ppid, [pid]);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i += 1) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

export interface TreeUsage {
  /** Processes in the tree, the root included. */
  processes: number;
  /** Innermost processes carrying the marker. */
  servers: number;
  /** Resident memory of the whole tree. */
  rssBytes: number;
  /** Resident memory of the root process alone (the gateway without its servers). */
  rootRssBytes: number;
}

async function carriesMarker(pid: number, marker: string): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.split('\0').includes(marker);
}

export async function treeUsage(root: number, marker: string): Promise<TreeUsage> {
  const processes = await listProcesses();
  const tree = treeOf(processes, root);
  const [rss, marked] = await Promise.all([Promise.all(tree.map((pid) => rssBytes(pid))), Promise.all(tree.map((pid) => carriesMarker(pid, marker)))]);
  const markedPids = new Set(tree.filter((_, i) => marked[i]));
  const inTree = new Set(tree);
  const parentOf = new Map(processes.map((p) => [p.pid, p.ppid]));
  // A marked process with a marked descendant is a wrapper (or the gateway itself, whose argv holds
  // the server's command line): count the descendant only.
  const wrappers = new Set<number>();
  for (const pid of markedPids) {
    for (let parent = parentOf.get(pid); parent !== undefined && inTree.has(parent) && pid !== root; parent = parentOf.get(parent)) {
      if (markedPids.has(parent)) wrappers.add(parent);
      if (parent === root) break;
    }
  }
  return {
    processes: tree.length,
    servers: markedPids.size - wrappers.size,
    rssBytes: rss.reduce<number>((sum, bytes) => sum + (bytes ?? 0), 0),
    rootRssBytes: rss[0] ?? 0,
  };
}

export interface TreeWatch {
  /** Stops sampling; the peaks over the samples (and one final sample). */
  stop(): Promise<{ peakRssBytes: number; peakRootRssBytes: number; peakServers: number; samples: number }>;
}

/** Samples the tree every `everyMs` until stopped. */
export function watchTree(root: number, marker: string, everyMs: number): TreeWatch {
  const stopped = new AbortController();
  let peakRssBytes = 0;
  let peakRootRssBytes = 0;
  let peakServers = 0;
  let samples = 0;
  const sample = async () => {
    const usage = await treeUsage(root, marker);
    peakRssBytes = Math.max(peakRssBytes, usage.rssBytes);
    peakRootRssBytes = Math.max(peakRootRssBytes, usage.rootRssBytes);
    peakServers = Math.max(peakServers, usage.servers);
    samples += 1;
  };
  const loop = (async () => {
    while (!stopped.signal.aborted) {
      await sample();
      await sleep(everyMs, undefined, { signal: stopped.signal }).catch(() => undefined);
    }
  })();
  return {
    stop: async () => {
      stopped.abort();
      await loop;
      await sample();
      return { peakRssBytes, peakRootRssBytes, peakServers, samples };
    },
  };
}

/** Processes anywhere on the machine whose command line carries `marker` (what a stopped gateway may have left). */
export async function processesCarrying(marker: string): Promise<number[]> {
  const processes = await listProcesses();
  const marked = await Promise.all(processes.map((p) => carriesMarker(p.pid, marker)));
  return processes.filter((_, i) => marked[i]).map((p) => p.pid);
}

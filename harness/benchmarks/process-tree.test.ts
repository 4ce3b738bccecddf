import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { listProcesses, processesCarrying, treeOf, treeUsage } from './process-tree.js';

describe('treeOf', () => {
  it('lists a process and its descendants, parents first, and nothing else', () => {
    const processes = [
      { pid: 1, ppid: 0 },
      { pid: 10, ppid: 1 },
      { pid: 11, ppid: 10 },
      { pid: 12, ppid: 10 },
      { pid: 13, ppid: 12 },
      { pid: 20, ppid: 1 },
    ];
    expect(treeOf(processes, 10)).toEqual([10, 11, 12, 13]);
    expect(treeOf(processes, 13)).toEqual([13]);
  });
});

describe('treeUsage', () => {
  it('counts the innermost processes carrying the marker, and the memory of the whole tree', async () => {
    const marker = `--tree-test-${process.pid}-${Date.now()}`;
    // A shell carrying the marker (a wrapper) starts two shells carrying it (the servers), each
    // running a sleep that does not; `; :` keeps the shells from exec-ing the sleep.
    const server = `sh -c 'sleep 30; :' "$1"`;
    const parent = spawn('sh', ['-c', `${server} & ${server} & wait`, 'sh', marker], { stdio: 'ignore' });
    const exited = new Promise((resolve) => parent.once('exit', resolve));
    try {
      let usage = await treeUsage(parent.pid!, marker);
      for (let i = 0; i < 250 && usage.processes < 5; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        usage = await treeUsage(parent.pid!, marker);
      }
      expect(usage).toMatchObject({ processes: 5, servers: 2 });
      expect(usage.rootRssBytes).toBeGreaterThan(0);
      expect(usage.rssBytes).toBeGreaterThan(usage.rootRssBytes);
      expect(await processesCarrying(marker)).toHaveLength(3);
    } finally {
      for (const pid of treeOf(await listProcesses(), parent.pid!).reverse()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      await exited;
    }
    expect(await processesCarrying(marker)).toEqual([]);
  });
});

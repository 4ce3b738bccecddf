/** What a figure was measured on: CPU, memory, kernel, Node, cgroup limits, git revision and load. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export interface MachineFingerprint {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  kernel: string;
  node: string;
  cgroup: { version: 1 | 2 | 'none'; memoryLimitBytes?: number; cpuQuota?: number };
  gitRevision?: string;
  gitDirty?: boolean;
  loadAverage1m: number;
}

async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** A cgroup limit as a number, or undefined for "max" and the v1 "no limit" sentinel. */
function limit(value: string | undefined): number | undefined {
  if (value === undefined || value === 'max') return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n < 2 ** 62 ? n : undefined;
}

async function cgroupLimits(): Promise<MachineFingerprint['cgroup']> {
  const membership = (await readTrimmed('/proc/self/cgroup')) ?? '';
  const v1Memory = /^\d+:memory:(.*)$/m.exec(membership)?.[1];
  if (v1Memory !== undefined) {
    const memory = limit(await readTrimmed(`/sys/fs/cgroup/memory${v1Memory}/memory.limit_in_bytes`));
    const quota = Number(await readTrimmed('/sys/fs/cgroup/cpu/cpu.cfs_quota_us'));
    const period = Number(await readTrimmed('/sys/fs/cgroup/cpu/cpu.cfs_period_us'));
    return {
      version: 1,
      ...(memory !== undefined ? { memoryLimitBytes: memory } : {}),
      ...(quota > 0 && period > 0 ? { cpuQuota: quota / period } : {}),
    };
  }
  const v2Path = /^0::(.*)$/m.exec(membership)?.[1];
  if (v2Path === undefined) return { version: 'none' };
  const memory = limit(await readTrimmed(`/sys/fs/cgroup${v2Path}/memory.max`));
  const [quota, period] = ((await readTrimmed(`/sys/fs/cgroup${v2Path}/cpu.max`)) ?? 'max').split(' ');
  const cpuQuota = limit(quota) !== undefined && Number(period) > 0 ? Number(quota) / Number(period) : undefined;
  return { version: 2, ...(memory !== undefined ? { memoryLimitBytes: memory } : {}), ...(cpuQuota !== undefined ? { cpuQuota } : {}) };
}

/** This checkout (of the source or of its build under dist/): the code measured, wherever the command runs from. */
const CHECKOUT = fileURLToPath(new URL('.', import.meta.url));

async function git(args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)('git', args, { timeout: 5000, cwd: CHECKOUT });
    return stdout.trim();
  } catch {
    return undefined;
  }
}

export async function machineFingerprint(): Promise<MachineFingerprint> {
  const [cgroup, revision, status] = await Promise.all([cgroupLimits(), git(['rev-parse', 'HEAD']), git(['status', '--porcelain'])]);
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryBytes: totalmem(),
    kernel: release(),
    node: process.version,
    cgroup,
    ...(revision ? { gitRevision: revision, gitDirty: (status ?? '') !== '' } : {}),
    loadAverage1m: loadavg()[0] ?? 0,
  };
}

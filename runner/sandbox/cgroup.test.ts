import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../exec.js';
import {
  LaunchCgroup,
  cgroupAttachedCommand,
  cgroupLimitValues,
  cgroupPlacements,
  limitFiles,
  parseCgroupMounts,
  requiredControllers,
} from './cgroup.js';

/** A hybrid host (systemd's legacy layout): v1 controllers, cpu co-mounted with cpuacct, a v2 tree with no controllers. */
const HYBRID = [
  '25 30 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
  '26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate',
  '27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd',
  '30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct',
  '31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory',
  '32 25 0:29 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,pids',
  '33 25 0:30 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,cpuset',
].join('\n');

const UNIFIED = ['24 30 0:21 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot'].join('\n');

describe('parseCgroupMounts and cgroupPlacements', () => {
  it('places each controller in its v1 hierarchy on a hybrid host', () => {
    const hierarchies = parseCgroupMounts(HYBRID);
    expect(hierarchies).toEqual({
      v1: { memory: '/sys/fs/cgroup/memory', cpu: '/sys/fs/cgroup/cpu,cpuacct', pids: '/sys/fs/cgroup/pids' },
      v2: '/sys/fs/cgroup/unified',
    });
    expect(cgroupPlacements(hierarchies, ['hugetlb'])).toEqual([
      { version: 1, mount: '/sys/fs/cgroup/memory', controllers: ['memory'] },
      { version: 1, mount: '/sys/fs/cgroup/cpu,cpuacct', controllers: ['cpu'] },
      { version: 1, mount: '/sys/fs/cgroup/pids', controllers: ['pids'] },
    ]);
  });

  it('uses one v2 cgroup for every controller on a unified host', () => {
    const hierarchies = parseCgroupMounts(UNIFIED);
    expect(hierarchies).toEqual({ v1: {}, v2: '/sys/fs/cgroup' });
    expect(cgroupPlacements(hierarchies, ['cpuset', 'cpu', 'io', 'memory', 'pids'])).toEqual([
      { version: 2, mount: '/sys/fs/cgroup', controllers: ['memory', 'cpu', 'pids'] },
    ]);
    // A controller the v2 root does not offer has no placement.
    expect(cgroupPlacements(hierarchies, ['memory'])).toEqual([{ version: 2, mount: '/sys/fs/cgroup', controllers: ['memory'] }]);
  });

  it('decodes escaped mount points', () => {
    expect(parseCgroupMounts('31 25 0:28 / /sys/fs/cgroup/my\\040memory rw - cgroup cgroup rw,memory').v1.memory).toBe('/sys/fs/cgroup/my memory');
  });
});

describe('limits', () => {
  it('converts to kernel units and names the controllers needed', () => {
    const values = cgroupLimitValues({ memoryMiB: 512, cpus: 1.5, pids: 100 });
    expect(values).toEqual({ memoryBytes: 536870912, cpuQuotaUs: 150000, pids: 100 });
    expect(requiredControllers(values)).toEqual(['memory', 'cpu', 'pids']);
    expect(requiredControllers(cgroupLimitValues({ pids: 5 }))).toEqual(['pids']);
    // The kernel's minimum quota is 1 ms.
    expect(cgroupLimitValues({ cpus: 0.001 }).cpuQuotaUs).toBe(1000);
  });

  it.each([{ memoryMiB: 0 }, { memoryMiB: 1.5 }, { cpus: 0 }, { cpus: Number.NaN }, { pids: 0 }, { pids: 2.5 }])('refuses %j', (limits) => {
    expect(() => cgroupLimitValues(limits)).toThrowError(expect.objectContaining({ code: 'SANDBOX_LAUNCH_FAILED' }));
  });

  it('writes v1 and v2 interface files', () => {
    const values = cgroupLimitValues({ memoryMiB: 256, cpus: 0.5, pids: 64 });
    expect(limitFiles({ version: 1, mount: '/m', controllers: ['memory'] }, values)).toEqual([['memory.limit_in_bytes', '268435456']]);
    expect(limitFiles({ version: 1, mount: '/c', controllers: ['cpu'] }, values)).toEqual([
      ['cpu.cfs_period_us', '100000'],
      ['cpu.cfs_quota_us', '50000'],
    ]);
    expect(limitFiles({ version: 2, mount: '/u', controllers: ['memory', 'cpu', 'pids'] }, values)).toEqual([
      ['memory.max', '268435456'],
      ['cpu.max', '50000 100000'],
      ['pids.max', '64'],
    ]);
    expect(limitFiles({ version: 2, mount: '/u', controllers: ['memory', 'cpu', 'pids'] }, {})).toEqual([]);
  });
});

describe('cgroupAttachedCommand', () => {
  /** Runs the command with plain files standing in for two hierarchies' cgroup.procs. */
  async function attached(env: Record<string, string>, command: string[]) {
    const dirs = [await mkdtemp(join(tmpdir(), 'mcpwarm-attach-a-')), await mkdtemp(join(tmpdir(), 'mcpwarm-attach-b-'))];
    try {
      const [file, ...args] = cgroupAttachedCommand(new LaunchCgroup(dirs), env, command);
      const output = await run(file!, args, { env });
      return { output, procs: await Promise.all(dirs.map((dir) => readFile(join(dir, 'cgroup.procs'), 'utf8'))) };
    } finally {
      await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    }
  }

  it('joins every hierarchy with the pid the command then runs as', async () => {
    const { output, procs } = await attached({}, ['/bin/sh', '-c', 'echo $$']);
    expect(procs).toEqual([output, output]);
  });

  it('passes the environment on exactly, PWD included or not', async () => {
    const env = { PATH: '/usr/bin:/bin', EMPTY: '', SPACED: 'a b\nc' };
    const printed = (output: string) => output.split('\0').filter(Boolean).sort();
    expect(printed((await attached(env, ['/usr/bin/env', '-0'])).output)).toEqual(['EMPTY=', 'PATH=/usr/bin:/bin', 'SPACED=a b\nc']);
    expect(printed((await attached({ ...env, PWD: '/app' }, ['/usr/bin/env', '-0'])).output)).toContain('PWD=/app');
  });

  it('refuses variable names a shell would drop', () => {
    expect(() => cgroupAttachedCommand(new LaunchCgroup(['/x']), { 'spring.profiles': 'dev' }, ['/bin/true'])).toThrowError(
      expect.objectContaining({ code: 'SANDBOX_LAUNCH_FAILED' }),
    );
  });
});

import { describe, expect, it } from 'vitest';
import type { LaunchSpec } from '../types.js';
import { NOFILE_LIMIT, ROOT_CAPABILITIES, runtimeSpec } from './runtime-spec.js';

function launchSpec(overrides: Partial<LaunchSpec> = {}): LaunchSpec {
  return {
    id: 'i-0123abcd',
    rootfs: '/var/lib/mcpwarm/instances/i-0123abcd/rootfs',
    argv: ['/usr/local/bin/node', '/app/server.mjs'],
    env: ['PATH=/usr/local/bin:/usr/bin', 'NODE_ENV=production'],
    cwd: '/app',
    user: { uid: 1000, gid: 1000, additionalGids: [50] },
    limits: {},
    network: false,
    workDir: '/var/lib/mcpwarm/instances/i-0123abcd/sandbox',
    ...overrides,
  };
}

describe('runtimeSpec', () => {
  it('runs the launch process as its user, without a terminal or new privileges', () => {
    const spec = runtimeSpec(launchSpec());
    expect(spec.process).toMatchObject({
      terminal: false,
      user: { uid: 1000, gid: 1000, additionalGids: [50] },
      args: ['/usr/local/bin/node', '/app/server.mjs'],
      env: ['PATH=/usr/local/bin:/usr/bin', 'NODE_ENV=production'],
      cwd: '/app',
      noNewPrivileges: true,
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: NOFILE_LIMIT, soft: NOFILE_LIMIT }],
    });
    expect(spec.root).toEqual({ path: '/var/lib/mcpwarm/instances/i-0123abcd/rootfs', readonly: false });
    expect(spec.hostname).toBe('i-0123abcd');
  });

  it('gives a non-root user no capabilities and root only the minimal set', () => {
    expect(Object.values(runtimeSpec(launchSpec()).process.capabilities).every((set) => set.length === 0)).toBe(true);
    const root = runtimeSpec(launchSpec({ user: { uid: 0, gid: 0, additionalGids: [] } })).process.capabilities;
    expect(root.bounding).toEqual(ROOT_CAPABILITIES);
    expect(root.effective).toEqual(ROOT_CAPABILITIES);
    expect(root.inheritable).toEqual([]);
  });

  it('unshares the network unless the launch asks for it', () => {
    const types = (spec: LaunchSpec) => runtimeSpec(spec).linux.namespaces.map((namespace) => namespace.type).sort();
    expect(types(launchSpec())).toEqual(['ipc', 'mount', 'network', 'pid', 'uts']);
    expect(types(launchSpec({ network: true }))).toEqual(['ipc', 'mount', 'pid', 'uts']);
  });

  it('mounts proc, dev, devpts, shm, mqueue and a read-only sys, and masks what runc spec masks', () => {
    const spec = runtimeSpec(launchSpec());
    expect(spec.mounts.map((mount) => mount.destination)).toEqual(['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys']);
    expect(spec.mounts.find((mount) => mount.destination === '/sys')?.options).toContain('ro');
    expect(spec.linux.maskedPaths).toContain('/proc/kcore');
    expect(spec.linux.readonlyPaths).toContain('/proc/sysrq-trigger');
  });

  it('puts the container in /mcpwarm/<id> with the limits in kernel units', () => {
    const spec = runtimeSpec(launchSpec({ limits: { memoryMiB: 256, cpus: 0.5, pids: 64 } }));
    expect(spec.linux.cgroupsPath).toBe('/mcpwarm/i-0123abcd');
    expect(spec.linux.resources).toEqual({
      devices: [{ allow: false, access: 'rwm' }],
      memory: { limit: 268435456 },
      cpu: { quota: 50000, period: 100000 },
      pids: { limit: 64 },
    });
    expect(runtimeSpec(launchSpec()).linux.resources).toEqual({ devices: [{ allow: false, access: 'rwm' }] });
  });

  it('refuses limits the kernel cannot take', () => {
    expect(() => runtimeSpec(launchSpec({ limits: { memoryMiB: 0.5 } }))).toThrowError(expect.objectContaining({ code: 'SANDBOX_LAUNCH_FAILED' }));
    expect(() => runtimeSpec(launchSpec({ limits: { cpus: -1 } }))).toThrowError(expect.objectContaining({ code: 'SANDBOX_LAUNCH_FAILED' }));
  });
});

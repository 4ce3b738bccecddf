/**
 * The OCI runtime spec (a bundle's config.json) runc is given for one launch: `runc spec`'s
 * defaults (mounts, masked and read-only paths, device rules) with the launch's process, user,
 * namespaces and cgroup limits, and without a terminal so runc hands its stdio to the server.
 */
import { CGROUP_PARENT, CPU_PERIOD_US, cgroupLimitValues } from '../cgroup.js';
import type { LaunchSpec } from '../types.js';

export interface RuntimeMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

/** The part of the OCI runtime spec (1.0.2) mcpwarm writes. */
export interface RuntimeSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<'bounding' | 'effective' | 'permitted' | 'inheritable' | 'ambient', string[]>;
    rlimits: Array<{ type: string; hard: number; soft: number }>;
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: RuntimeMount[];
  linux: {
    cgroupsPath: string;
    resources: {
      devices: Array<{ allow: boolean; access: string }>;
      memory?: { limit: number };
      cpu?: { quota: number; period: number };
      pids?: { limit: number };
    };
    namespaces: Array<{ type: string }>;
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

/** What `runc spec` gives a root process: enough to bind low ports and signal its own children. */
export const ROOT_CAPABILITIES = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
export const NOFILE_LIMIT = 1024;

const MOUNTS: RuntimeMount[] = [
  { destination: '/proc', type: 'proc', source: 'proc' },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
  { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
];

const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/sys/firmware',
  '/proc/scsi',
];

const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

function capabilities(uid: number): RuntimeSpec['process']['capabilities'] {
  const granted = uid === 0 ? ROOT_CAPABILITIES : [];
  return { bounding: granted, effective: granted, permitted: granted, inheritable: [], ambient: granted };
}

function resources(spec: LaunchSpec): RuntimeSpec['linux']['resources'] {
  const values = cgroupLimitValues(spec.limits);
  return {
    // Deny all devices; runc adds its default allow list (null, zero, full, random, urandom, tty, ptmx).
    devices: [{ allow: false, access: 'rwm' }],
    ...(values.memoryBytes !== undefined ? { memory: { limit: values.memoryBytes } } : {}),
    ...(values.cpuQuotaUs !== undefined ? { cpu: { quota: values.cpuQuotaUs, period: CPU_PERIOD_US } } : {}),
    ...(values.pids !== undefined ? { pids: { limit: values.pids } } : {}),
  };
}

export function runtimeSpec(spec: LaunchSpec): RuntimeSpec {
  const namespaces = ['pid', 'ipc', 'uts', 'mount', ...(spec.network ? [] : ['network'])];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: spec.user.uid, gid: spec.user.gid, additionalGids: spec.user.additionalGids },
      args: spec.argv,
      env: spec.env,
      cwd: spec.cwd,
      capabilities: capabilities(spec.user.uid),
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: NOFILE_LIMIT, soft: NOFILE_LIMIT }],
      noNewPrivileges: true,
    },
    // Writable: the rootfs is the overlay's upper layer (or a private copy), the image below stays read-only.
    root: { path: spec.rootfs, readonly: false },
    hostname: spec.id,
    mounts: MOUNTS,
    linux: {
      cgroupsPath: `/${CGROUP_PARENT}/${spec.id}`,
      resources: resources(spec),
      namespaces: namespaces.map((type) => ({ type })),
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
    },
  };
}

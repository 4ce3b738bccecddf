/**
 * Per-launch cgroups for the sandboxes that have none of their own (bwrap, chroot, none): memory,
 * cpu and pids, each under `<hierarchy>/mcpwarm/<id>` - in the controller's v1 hierarchy where it
 * has one (hybrid hosts) and in the unified v2 hierarchy otherwise. runc makes the same directories
 * itself from cgroupsPath `/mcpwarm/<id>`, so `launchCgroupDirs` names them for every sandbox.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpWarmError } from '../errors.js';
import type { ResourceLimits } from './types.js';

export type CgroupController = 'memory' | 'cpu' | 'pids';

const CONTROLLERS: readonly CgroupController[] = ['memory', 'cpu', 'pids'];
/** The directory under each hierarchy that holds one cgroup per launch. */
export const CGROUP_PARENT = 'mcpwarm';
/** CFS period: quotas are expressed against 100 ms, as Docker and runc do. */
export const CPU_PERIOD_US = 100_000;
const MIN_CPU_QUOTA_US = 1000;
const REMOVE_ATTEMPTS = 40;
const REMOVE_RETRY_MS = 50;

export interface CgroupHierarchies {
  /** Mount point of each controller mounted as a v1 hierarchy. */
  v1: Partial<Record<CgroupController, string>>;
  /** Mount point of the unified (v2) hierarchy, if there is one. */
  v2?: string;
}

/** One hierarchy a launch's cgroup lives in, with the controllers it uses there. */
export interface CgroupPlacement {
  version: 1 | 2;
  mount: string;
  controllers: CgroupController[];
}

export interface CgroupLimitValues {
  memoryBytes?: number;
  cpuQuotaUs?: number;
  pids?: number;
}

/** The cgroup mounts listed in a /proc/self/mountinfo text (the first mount of each wins). */
export function parseCgroupMounts(mountinfo: string): CgroupHierarchies {
  const hierarchies: CgroupHierarchies = { v1: {} };
  for (const line of mountinfo.split('\n')) {
    const [mountFields, fsFields] = line.split(' - ');
    if (mountFields === undefined || fsFields === undefined) continue;
    const mountPoint = mountFields.split(' ')[4]?.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    const [fsType, , superOptions = ''] = fsFields.split(' ');
    if (mountPoint === undefined) continue;
    if (fsType === 'cgroup2') hierarchies.v2 ??= mountPoint;
    if (fsType !== 'cgroup') continue;
    const options = superOptions.split(',');
    for (const controller of CONTROLLERS) {
      if (options.includes(controller)) hierarchies.v1[controller] ??= mountPoint;
    }
  }
  return hierarchies;
}

/** Where each controller is: its v1 hierarchy, else the v2 one when that offers it; co-mounted controllers share a placement. */
export function cgroupPlacements(hierarchies: CgroupHierarchies, v2Controllers: readonly string[]): CgroupPlacement[] {
  const placements: CgroupPlacement[] = [];
  const place = (version: 1 | 2, mount: string, controller: CgroupController) => {
    const existing = placements.find((placement) => placement.mount === mount);
    if (existing) existing.controllers.push(controller);
    else placements.push({ version, mount, controllers: [controller] });
  };
  for (const controller of CONTROLLERS) {
    const v1Mount = hierarchies.v1[controller];
    if (v1Mount !== undefined) place(1, v1Mount, controller);
    else if (hierarchies.v2 !== undefined && v2Controllers.includes(controller)) place(2, hierarchies.v2, controller);
  }
  return placements;
}

function invalidLimits(message: string, limits: ResourceLimits): McpWarmError {
  return new McpWarmError('SANDBOX_LAUNCH_FAILED', `invalid resource limits: ${message}`, { details: { limits } });
}

/** The kernel's units for `limits`: bytes, a CFS quota against CPU_PERIOD_US, a process count. */
export function cgroupLimitValues(limits: ResourceLimits): CgroupLimitValues {
  const values: CgroupLimitValues = {};
  if (limits.memoryMiB !== undefined) {
    if (!Number.isInteger(limits.memoryMiB) || limits.memoryMiB < 1) throw invalidLimits('memoryMiB must be a whole number of MiB, at least 1', limits);
    values.memoryBytes = limits.memoryMiB * 1024 * 1024;
  }
  if (limits.cpus !== undefined) {
    if (!Number.isFinite(limits.cpus) || limits.cpus <= 0) throw invalidLimits('cpus must be a positive number', limits);
    values.cpuQuotaUs = Math.max(MIN_CPU_QUOTA_US, Math.round(limits.cpus * CPU_PERIOD_US));
  }
  if (limits.pids !== undefined) {
    if (!Number.isInteger(limits.pids) || limits.pids < 1) throw invalidLimits('pids must be a whole number, at least 1', limits);
    values.pids = limits.pids;
  }
  return values;
}

/** The controllers `values` need. */
export function requiredControllers(values: CgroupLimitValues): CgroupController[] {
  return CONTROLLERS.filter(
    (controller) => (controller === 'memory' ? values.memoryBytes : controller === 'cpu' ? values.cpuQuotaUs : values.pids) !== undefined,
  );
}

/** The interface files (relative to the cgroup directory) and values that apply `values` in one placement. */
export function limitFiles(placement: CgroupPlacement, values: CgroupLimitValues): Array<[file: string, value: string]> {
  const v1 = placement.version === 1;
  const files: Array<[string, string]> = [];
  const has = (controller: CgroupController) => placement.controllers.includes(controller);
  if (has('memory') && values.memoryBytes !== undefined) files.push([v1 ? 'memory.limit_in_bytes' : 'memory.max', String(values.memoryBytes)]);
  if (has('cpu') && values.cpuQuotaUs !== undefined) {
    if (v1) files.push(['cpu.cfs_period_us', String(CPU_PERIOD_US)], ['cpu.cfs_quota_us', String(values.cpuQuotaUs)]);
    else files.push(['cpu.max', `${values.cpuQuotaUs} ${CPU_PERIOD_US}`]);
  }
  if (has('pids') && values.pids !== undefined) files.push(['pids.max', String(values.pids)]);
  return files;
}

function readV2Controllers(mount: string | undefined): string[] {
  if (mount === undefined) return [];
  try {
    return readFileSync(join(mount, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
  } catch {
    return [];
  }
}

/** This host's placements (read once: mounts do not change under a running agent). */
let hostPlacements: CgroupPlacement[] | undefined;
export function hostCgroupPlacements(): CgroupPlacement[] {
  if (hostPlacements === undefined) {
    const hierarchies = parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
    hostPlacements = cgroupPlacements(hierarchies, readV2Controllers(hierarchies.v2));
  }
  return hostPlacements;
}

/** The cgroup directories of launch `id`, one per hierarchy (whether or not they exist). */
export function launchCgroupDirs(id: string): string[] {
  return hostCgroupPlacements().map((placement) => join(placement.mount, CGROUP_PARENT, id));
}

function isErrno(error: unknown, ...codes: string[]): boolean {
  return codes.includes((error as NodeJS.ErrnoException).code ?? '');
}

async function memberPids(dir: string): Promise<number[]> {
  try {
    return (await readFile(join(dir, 'cgroup.procs'), 'utf8')).split('\n').filter(Boolean).map(Number);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return [];
    throw error;
  }
}

/** The cgroup of one launch, across every hierarchy it spans. */
export class LaunchCgroup {
  constructor(readonly dirs: readonly string[]) {}

  /** The files a process writes its pid to, to join this cgroup in every hierarchy. */
  get procsFiles(): string[] {
    return this.dirs.map((dir) => join(dir, 'cgroup.procs'));
  }

  /**
   * Kills whatever is still inside (a server's forgotten children included) and removes the
   * directories. The kernel refuses to remove a cgroup with members, and briefly after the last one
   * left, hence the retries.
   */
  async remove(): Promise<void> {
    for (const dir of [...this.dirs].reverse()) {
      for (let attempt = 1; ; attempt += 1) {
        for (const pid of await memberPids(dir)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // exited meanwhile
          }
        }
        try {
          await rmdir(dir);
          break;
        } catch (error) {
          if (isErrno(error, 'ENOENT')) break;
          if (!isErrno(error, 'EBUSY') || attempt === REMOVE_ATTEMPTS) throw new Error(`could not remove cgroup ${dir}: ${(error as Error).message}`);
        }
        await sleep(REMOVE_RETRY_MS);
      }
    }
  }
}

/** Kills what is left in the cgroups of these launch ids and removes them. */
export async function sweepLaunchCgroups(ids: readonly string[]): Promise<void> {
  for (const id of ids) await new LaunchCgroup(launchCgroupDirs(id)).remove();
}

async function enableV2Controllers(mount: string, controllers: readonly CgroupController[]): Promise<void> {
  // A v2 cgroup only offers a controller its parent enabled for its children (cgroup.subtree_control).
  for (const dir of [mount, join(mount, CGROUP_PARENT)]) {
    for (const controller of controllers) await writeFile(join(dir, 'cgroup.subtree_control'), `+${controller}`);
  }
}

/**
 * Creates launch `id`'s cgroup in every hierarchy that has one of the controllers and applies
 * `limits`. Undefined when this process cannot manage cgroups (not root, no hierarchy) and no limit
 * was asked for; a limit that cannot be applied is an error. Nothing is left behind on failure.
 */
export async function createLaunchCgroup(id: string, limits: ResourceLimits): Promise<LaunchCgroup | undefined> {
  const values = cgroupLimitValues(limits);
  const needed = requiredControllers(values);
  const placements = process.getuid?.() === 0 ? hostCgroupPlacements() : [];
  const missing = needed.filter((controller) => !placements.some((placement) => placement.controllers.includes(controller)));
  if (missing.length > 0) {
    const why = process.getuid?.() === 0 ? `no ${missing.join(', ')} cgroup controller on this host` : 'creating cgroups needs root';
    throw new McpWarmError('SANDBOX_LAUNCH_FAILED', `cannot apply the resource limits: ${why}`, { details: { limits, missing } });
  }
  if (placements.length === 0) return undefined;

  const created: string[] = [];
  try {
    for (const placement of placements) {
      const dir = join(placement.mount, CGROUP_PARENT, id);
      await mkdir(join(placement.mount, CGROUP_PARENT), { recursive: true });
      if (placement.version === 2) await enableV2Controllers(placement.mount, placement.controllers);
      try {
        await mkdir(dir);
      } catch (error) {
        if (isErrno(error, 'EEXIST')) throw new McpWarmError('SANDBOX_LAUNCH_FAILED', `cgroup ${dir} already exists: is instance ${id} still running?`);
        throw error;
      }
      created.push(dir);
      for (const [file, value] of limitFiles(placement, values)) await writeFile(join(dir, file), value);
    }
    return new LaunchCgroup(created);
  } catch (error) {
    await new LaunchCgroup(created).remove();
    if (error instanceof McpWarmError) throw error;
    throw new McpWarmError('SANDBOX_LAUNCH_FAILED', `could not set up the cgroup of ${id}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * A host command that joins `cgroup` and then becomes `command`, so nothing the command forks can
 * start outside it: a shell writes its own pid to every cgroup.procs file and execs. The shell
 * passes its environment on with two changes, handled here: it sets PWD (so PWD is restored to the
 * caller's value or removed) and it drops variables whose names are not shell identifiers (refused,
 * rather than lost silently).
 */
export function cgroupAttachedCommand(cgroup: LaunchCgroup, env: Record<string, string>, command: readonly string[]): string[] {
  const unportable = Object.keys(env).filter((name) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name));
  if (unportable.length > 0) {
    throw new McpWarmError('SANDBOX_LAUNCH_FAILED', `environment variable names this sandbox cannot pass on: ${unportable.join(', ')}`, {
      details: { names: unportable },
    });
  }
  const script = [
    'case $1 in PWD=*) export "$1" ;; *) unset PWD ;; esac',
    'shift',
    'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done',
    'shift',
    'exec "$@"',
  ].join('\n');
  const pwd = env.PWD === undefined ? '-' : `PWD=${env.PWD}`;
  return ['/bin/sh', '-c', script, 'mcpwarm-cgroup-attach', pwd, ...cgroup.procsFiles, '--', ...command];
}

/**
 * overlayfs specifics: whether it can be mounted here, its whiteout form (0/0 character devices
 * and the `trusted.overlay.opaque` xattr; Node has neither mknod nor setxattr, so these run as
 * one batched child process per layer), and mounting through mount(8).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { McpWarmError } from '../errors.js';
import { findExecutable, isProcessAlive, requireExecutable, run } from '../exec.js';

/** Options longer than a page are cut by the kernel. */
const MAX_MOUNT_OPTIONS = 4095;
/** Well under the kernel's per-exec argument limits. */
const MAX_BATCH_ARGUMENT_BYTES = 96 * 1024;
/** Probe directories are named `<prefix><pid>-<random>` in the temporary directory. */
const PROBE_PREFIX = 'mcpwarm-overlay-probe-';
const PROBE_NAME = new RegExp(`^${PROBE_PREFIX}(\\d+)-`);
/** The overlay creates its work directory while a removal may be under way: retry then. */
const REMOVE_OPTIONS = { recursive: true, force: true, maxRetries: 3, retryDelay: 20 } as const;

let availability: Promise<boolean> | undefined;
/** This process's probe directories not removed yet: process.exit() mid-probe (a signal handler) skips `finally`. */
const unfinishedProbes = new Set<string>();
let removeOnExit = false;

/** Root, overlay listed in /proc/filesystems, and a real probe mount succeeds (checked once per process). */
export function overlayAvailable(): Promise<boolean> {
  availability ??= probeOverlay();
  return availability;
}

/**
 * Probes now, without the per-process answer of overlayAvailable(). The probe overlay is mounted
 * in a private mount namespace of its own (unshare(1) running mount(8)): it goes away with that
 * namespace when mount exits, so nothing stays mounted even when this process is killed
 * mid-probe. Its directories, in the temporary directory (the filesystem the answer is about),
 * are removed when the probe ends or the process exits; those of a process killed outright are
 * removed by the next probe on the machine.
 */
export async function probeOverlay(): Promise<boolean> {
  if (process.geteuid?.() !== 0) return false;
  let filesystems: string;
  try {
    filesystems = readFileSync('/proc/filesystems', 'utf8');
  } catch {
    return false;
  }
  const unshare = findExecutable('unshare');
  const mount = findExecutable('mount');
  if (!/\toverlay$/m.test(filesystems) || unshare === undefined || mount === undefined) return false;
  removeAbandonedProbes();
  const probe = mkdtempSync(join(tmpdir(), `${PROBE_PREFIX}${process.pid}-`));
  unfinishedProbes.add(probe);
  if (!removeOnExit) {
    process.once('exit', () => unfinishedProbes.forEach(removeProbe));
    removeOnExit = true;
  }
  try {
    for (const name of ['lower', 'upper', 'work', 'merged']) mkdirSync(join(probe, name));
    const { cwd, args } = overlayMountArguments({
      lowerDirs: [join(probe, 'lower')],
      upperDir: join(probe, 'upper'),
      workDir: join(probe, 'work'),
      target: join(probe, 'merged'),
    });
    await run(unshare, ['--mount', '--propagation', 'private', mount, ...args], { cwd });
    return true;
  } catch {
    return false;
  } finally {
    removeProbe(probe);
  }
}

function removeProbe(dir: string): void {
  unfinishedProbes.delete(dir);
  try {
    rmSync(dir, REMOVE_OPTIONS);
  } catch {
    // left to the next probe's sweep
  }
}

/** Removes the probe directories of processes that died mid-probe (never mounted: see probeOverlay). */
function removeAbandonedProbes(): void {
  const dir = tmpdir();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = PROBE_NAME.exec(name)?.[1];
    if (pid !== undefined && !isProcessAlive(Number(pid))) removeProbe(join(dir, name));
  }
}

/** Splits arguments into batches that fit one command line. */
function batches(items: readonly string[]): string[][] {
  const result: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(item) + 1;
    if (current.length > 0 && bytes + size > MAX_BATCH_ARGUMENT_BYTES) {
      result.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) result.push(current);
  return result;
}

/**
 * Writes a layer's whiteouts in overlayfs form under `root`: a 0/0 character device per deleted
 * path, `trusted.overlay.opaque=y` on each opaque directory. Paths are normalized and relative;
 * the commands run in `root` with './'-prefixed arguments, so no name can pass for an option.
 */
export async function writeOverlayWhiteouts(
  root: string,
  whiteouts: { devices: readonly string[]; opaqueDirs: readonly string[]; layerName: string },
): Promise<void> {
  try {
    if (whiteouts.devices.length > 0) {
      const sh = requireExecutable('sh', 'dash');
      requireExecutable('mknod', 'coreutils');
      const script = 'for p; do mknod "$p" c 0 0 || exit 1; done';
      for (const batch of batches(whiteouts.devices.map((path) => `./${path}`))) {
        await run(sh, ['-c', script, 'sh', ...batch], { cwd: root });
      }
    }
    if (whiteouts.opaqueDirs.length > 0) {
      const setfattr = requireExecutable('setfattr', 'attr');
      for (const batch of batches(whiteouts.opaqueDirs.map((path) => `./${path}`))) {
        await run(setfattr, ['-h', '-n', 'trusted.overlay.opaque', '-v', 'y', ...batch], { cwd: root });
      }
    }
  } catch (error) {
    if (error instanceof McpWarmError) throw error;
    throw new McpWarmError(
      'ROOTFS_COMPOSE_FAILED',
      `layer ${whiteouts.layerName}: writing overlay whiteouts failed: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** The deepest directory that contains every one of `paths` (absolute). */
function commonParent(paths: readonly string[]): string {
  let common = dirname(paths[0]!);
  for (const path of paths) {
    while (common !== sep && !path.startsWith(common + sep)) common = dirname(common);
  }
  return common;
}

export interface OverlayMount {
  /** Top layer first, as overlayfs wants them. */
  lowerDirs: readonly string[];
  upperDir: string;
  workDir: string;
  target: string;
}

/**
 * mount(8)'s arguments for an overlay, run in the common parent of all the directories, which are
 * passed relative to it: the option string must fit in a page, and digest-named snapshot paths
 * are long. Throws ROOTFS_COMPOSE_FAILED when they cannot be expressed.
 */
function overlayMountArguments(request: OverlayMount): { cwd: string; args: string[] } {
  const dirs = [...request.lowerDirs, request.upperDir, request.workDir].map((dir) => resolve(dir));
  const cwd = commonParent(dirs);
  const relativeDirs = dirs.map((dir) => relative(cwd, dir));
  const unsafe = relativeDirs.find((dir) => /[,:\\]/.test(dir));
  if (unsafe !== undefined) {
    throw new McpWarmError('ROOTFS_COMPOSE_FAILED', `overlay directory names cannot contain ',', ':' or '\\': ${unsafe}`);
  }
  const work = relativeDirs.pop()!;
  const upper = relativeDirs.pop()!;
  const options = `lowerdir=${relativeDirs.join(':')},upperdir=${upper},workdir=${work}`;
  if (options.length > MAX_MOUNT_OPTIONS) {
    throw new McpWarmError(
      'ROOTFS_COMPOSE_FAILED',
      `too many layers for one overlay mount: the options take ${options.length} bytes, the limit is ${MAX_MOUNT_OPTIONS}`,
    );
  }
  return { cwd, args: ['-t', 'overlay', 'overlay', '-o', options, resolve(request.target)] };
}

/** Mounts an overlay. Throws ROOTFS_COMPOSE_FAILED with mount's output. */
export async function mountOverlay(request: OverlayMount): Promise<void> {
  const { cwd, args } = overlayMountArguments(request);
  const mount = requireExecutable('mount', 'mount');
  try {
    await run(mount, args, { cwd });
  } catch (error) {
    throw new McpWarmError('ROOTFS_COMPOSE_FAILED', `overlay mount failed: ${(error as Error).message}`, { cause: error });
  }
}

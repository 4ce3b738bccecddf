/**
 * Composes a root filesystem from layer snapshots (each holding one layer's own contents):
 * an overlay mount, or a plain directory tree built by applying the layers bottom-up.
 *
 * The tree builder never follows a symbolic link in the target: it walks the target in step
 * with each snapshot, and a directory in an upper layer replaces whatever non-directory a lower
 * layer left at that path (a lower layer's `evil -> /etc` cannot make `evil/passwd` land in /etc).
 */
import {
  chmodSync,
  copyFileSync,
  constants,
  existsSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { McpWarmError } from '../errors.js';
import { unmount } from '../mounts.js';
import { mountOverlay, overlayAvailable } from './overlay.js';
import { isNormalEntryPath } from './safe-path.js';

export type ComposeMode = 'overlay' | 'hardlink' | 'copy';

export interface SnapshotLayer {
  dir: string;
  whiteouts: readonly string[];
  opaqueDirs: readonly string[];
  /** The snapshot also holds its whiteouts in overlayfs form. */
  overlayWhiteouts: boolean;
}

export interface ComposeRequest {
  /** Bottom layer first. */
  layers: readonly SnapshotLayer[];
  /** An empty directory or a path that does not exist yet. */
  target: string;
  /** Must not exist yet; holds the overlay's upper/ and work/ (and compose's own bookkeeping). */
  scratchDir: string;
  mode: ComposeMode | 'auto';
}

export interface ComposedRootfs {
  target: string;
  mode: ComposeMode;
  scratchDir: string;
}

/** Present in the scratch directory when compose created the target (release removes it then). */
const TARGET_CREATED_MARKER = 'target-created';

function composeFailed(message: string, cause?: unknown): McpWarmError {
  return new McpWarmError('ROOTFS_COMPOSE_FAILED', message, cause === undefined ? {} : { cause });
}

function needsOverlayWhiteouts(layer: SnapshotLayer): boolean {
  return !layer.overlayWhiteouts && (layer.whiteouts.length > 0 || layer.opaqueDirs.length > 0);
}

/** Whiteout records come from storage: they must be normalized paths before they name anything. */
function checkRecords(layers: readonly SnapshotLayer[]): void {
  for (const layer of layers) {
    const bad =
      layer.whiteouts.find((path) => !isNormalEntryPath(path)) ??
      layer.opaqueDirs.find((path) => path !== '' && !isNormalEntryPath(path));
    if (bad !== undefined) throw composeFailed(`snapshot ${layer.dir} records an invalid whiteout path: ${JSON.stringify(bad)}`);
  }
}

async function chooseMode(request: ComposeRequest): Promise<ComposeMode> {
  if (request.mode !== 'auto') return request.mode;
  return !request.layers.some(needsOverlayWhiteouts) && (await overlayAvailable()) ? 'overlay' : 'hardlink';
}

/** Creates the target or checks it is an empty directory; true when it was created. */
function prepareTarget(target: string): boolean {
  const stats = lstatSync(target, { throwIfNoEntry: false });
  if (stats === undefined) {
    mkdirSync(target, { recursive: true });
    return true;
  }
  if (!stats.isDirectory() || readdirSync(target).length > 0) {
    throw new McpWarmError('ROOTFS_TARGET_INVALID', `rootfs target ${target} is not an empty directory`, {
      details: { target },
    });
  }
  return false;
}

export async function composeRootfs(request: ComposeRequest): Promise<ComposedRootfs> {
  const mode = await chooseMode(request);
  checkRecords(request.layers);
  if (mode === 'overlay') {
    const lacking = request.layers.find(needsOverlayWhiteouts);
    if (lacking !== undefined) throw composeFailed(`snapshot ${lacking.dir} has no overlay whiteouts; compose it with hardlink or copy`);
  }
  const target = resolve(request.target);
  const scratchDir = resolve(request.scratchDir);
  if (existsSync(scratchDir)) throw composeFailed(`scratch directory ${scratchDir} already exists`);
  const createdTarget = prepareTarget(target);
  const rootfs: ComposedRootfs = { target, mode, scratchDir };
  try {
    mkdirSync(dirname(scratchDir), { recursive: true });
    mkdirSync(scratchDir);
    if (createdTarget) writeFileSync(join(scratchDir, TARGET_CREATED_MARKER), '');
    if (mode === 'overlay') await composeOverlay(request.layers, target, scratchDir);
    else buildTree(request.layers, target, mode);
    return rootfs;
  } catch (error) {
    await dismantle(rootfs, createdTarget).catch(() => undefined);
    if (error instanceof McpWarmError) throw error;
    throw composeFailed(`composing ${target} (${mode}) failed: ${(error as Error).message}`, error);
  }
}

/** Unmounts or removes the composed tree, and removes the scratch directory. */
export async function releaseRootfs(rootfs: ComposedRootfs): Promise<void> {
  await dismantle(rootfs, existsSync(join(rootfs.scratchDir, TARGET_CREATED_MARKER)));
}

async function dismantle(rootfs: ComposedRootfs, createdTarget: boolean): Promise<void> {
  const target = resolve(rootfs.target);
  if (rootfs.mode === 'overlay') {
    await unmount(target);
    if (createdTarget) rmSync(target, { recursive: true, force: true });
  } else if (createdTarget) {
    rmSync(target, { recursive: true, force: true });
  } else if (existsSync(target)) {
    for (const name of readdirSync(target)) rmSync(join(target, name), { recursive: true, force: true });
  }
  rmSync(rootfs.scratchDir, { recursive: true, force: true });
}

async function composeOverlay(layers: readonly SnapshotLayer[], target: string, scratchDir: string): Promise<void> {
  const upperDir = join(scratchDir, 'upper');
  const workDir = join(scratchDir, 'work');
  mkdirSync(upperDir);
  mkdirSync(workDir);
  let lowerDirs = layers.map((layer) => layer.dir).reverse();
  if (lowerDirs.length === 0) {
    // overlayfs needs at least one lower directory.
    lowerDirs = [join(scratchDir, 'empty')];
    mkdirSync(lowerDirs[0]!);
  }
  await mountOverlay({ lowerDirs, upperDir, workDir, target });
}

/**
 * Hardlink mode: the tree shares inodes with the snapshots, so it must be used read-only;
 * writing to a file in it would change the snapshot (and every other rootfs made from it).
 */
function buildTree(layers: readonly SnapshotLayer[], target: string, mode: 'hardlink' | 'copy'): void {
  for (const layer of layers) {
    for (const dir of layer.opaqueDirs) {
      const path = realDirectoryPath(target, dir);
      if (path !== undefined && lstatSync(path).isDirectory()) {
        for (const name of readdirSync(path)) rmSync(join(path, name), { recursive: true, force: true });
      }
    }
    for (const whiteout of layer.whiteouts) {
      const path = realDirectoryPath(target, whiteout);
      if (path !== undefined) rmSync(path, { recursive: true, force: true });
    }
    mergeDirectory(resolve(layer.dir), target, mode);
  }
}

/**
 * The absolute path of `relativePath` in `root` when every ancestor is a real directory (the
 * last component may be anything or missing); undefined when a lower layer left a non-directory
 * on the way, in which case there is nothing beneath to delete.
 */
function realDirectoryPath(root: string, relativePath: string): string | undefined {
  if (relativePath === '') return root;
  const parts = relativePath.split('/');
  let path = root;
  for (let i = 0; i < parts.length - 1; i++) {
    path = `${path}/${parts[i]}`;
    if (!lstatSync(path, { throwIfNoEntry: false })?.isDirectory()) return undefined;
  }
  return `${path}/${parts[parts.length - 1]}`;
}

function applyMetadata(path: string, stats: Stats): void {
  // chown clears setuid/setgid, so it comes before chmod.
  if (process.geteuid?.() === 0) lchownSync(path, stats.uid, stats.gid);
  if (!stats.isSymbolicLink()) chmodSync(path, stats.mode & 0o7777);
  lutimesSync(path, stats.atime, stats.mtime);
}

/** Applies one snapshot directory onto a target directory known to be a real directory. */
function mergeDirectory(source: string, target: string, mode: 'hardlink' | 'copy'): void {
  for (const entry of readdirSync(source, { withFileTypes: true })) {
    const from = `${source}/${entry.name}`;
    const to = `${target}/${entry.name}`;
    const existing = lstatSync(to, { throwIfNoEntry: false });
    if (entry.isDirectory()) {
      if (!existing?.isDirectory()) {
        if (existing !== undefined) rmSync(to, { recursive: true, force: true });
        mkdirSync(to, 0o700);
      }
      mergeDirectory(from, to, mode);
      applyMetadata(to, lstatSync(from));
    } else if (entry.isFile() || entry.isSymbolicLink()) {
      if (existing !== undefined) rmSync(to, { recursive: true, force: true });
      if (mode === 'hardlink') {
        linkSync(from, to);
      } else if (entry.isFile()) {
        copyFileSync(from, to, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
        applyMetadata(to, lstatSync(from));
      } else {
        symlinkSync(readlinkSync(from), to);
        applyMetadata(to, lstatSync(from));
      }
    }
    // Anything else is an overlay whiteout device: the layer's whiteout list was applied instead.
  }
}

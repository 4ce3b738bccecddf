/**
 * Turns a layer's changes into the exact, ordered tar entries of its blob, given the merged view
 * of the layers below it. Every parent directory is written explicitly, with the metadata a lower
 * layer gave it, because extractors create missing parents with their own defaults (and overlay
 * file systems then show those over the lower layer's /tmp 1777, say).
 */
import { posix } from 'node:path';
import type { TarEntryType } from '../tar-writer.js';
import type { EntryContent, LayerChanges, LayerEntry } from './layers.js';

export interface PathInfo {
  type: 'directory' | 'file' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
}

/** The merged file system of the layers built so far: image path -> what is there. */
export type ImageTree = ReadonlyMap<string, PathInfo>;

export interface PlannedEntry {
  /** The tar name: no leading slash, directories end with `/`. */
  name: string;
  type: Extract<TarEntryType, 'file' | 'directory' | 'symlink'>;
  mode: number;
  uid: number;
  gid: number;
  linkname?: string;
  content?: EntryContent;
}

export interface LayerPlan {
  entries: PlannedEntry[];
  /** The merged view including this layer. */
  tree: Map<string, PathInfo>;
}

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
const EMPTY = Buffer.alloc(0);

function ancestors(path: string): string[] {
  const result: string[] = [];
  for (let dir = posix.dirname(path); dir !== '/'; dir = posix.dirname(dir)) result.unshift(dir);
  return result;
}

function infoOf(entry: LayerEntry): PathInfo {
  return { type: entry.type, mode: entry.type === 'symlink' ? 0o777 : entry.mode, uid: entry.uid, gid: entry.gid };
}

/** Whiteouts sort before their siblings (as the OCI spec asks), the opaque marker first of all. */
function componentRank(component: string): number {
  if (component === OPAQUE_MARKER) return 0;
  return component.startsWith(WHITEOUT_PREFIX) ? 1 : 2;
}

/** Path order, component by component, so a directory always precedes what it contains. */
export function comparePaths(left: string, right: string): number {
  const a = left.split('/').filter(Boolean);
  const b = right.split('/').filter(Boolean);
  for (let index = 0; index < Math.min(a.length, b.length); index += 1) {
    const x = a[index]!;
    const y = b[index]!;
    if (x === y) continue;
    const rank = componentRank(x) - componentRank(y);
    if (rank !== 0) return rank;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

function withoutDescendants(tree: Map<string, PathInfo>, dir: string): void {
  const prefix = `${dir}/`;
  for (const path of tree.keys()) if (path.startsWith(prefix)) tree.delete(path);
}

/** Plans one layer; throws a plain Error naming the offending path when the changes cannot apply. */
export function planLayer(lower: ImageTree, changes: LayerChanges): LayerPlan {
  const written = new Map<string, LayerEntry>();
  for (const entry of changes.entries) {
    if (written.has(entry.path)) throw new Error(`${entry.path} is written twice in this layer`);
    written.set(entry.path, entry);
  }
  const markers: string[] = [];
  for (const path of changes.delete) {
    if (!lower.has(path)) throw new Error(`cannot delete ${path}: no lower layer has it`);
    markers.push(posix.join(posix.dirname(path), `${WHITEOUT_PREFIX}${posix.basename(path)}`));
  }
  for (const dir of changes.opaque) {
    if (lower.get(dir)?.type !== 'directory') throw new Error(`cannot make ${dir} opaque: no lower layer has it as a directory`);
    markers.push(posix.join(dir, OPAQUE_MARKER));
  }

  const parents = new Map<string, PathInfo>();
  for (const path of [...written.keys(), ...markers]) {
    for (const dir of ancestors(path)) {
      const own = written.get(dir);
      if (own) {
        if (own.type !== 'directory') throw new Error(`${path} needs ${dir} to be a directory, but this layer makes it a ${own.type}`);
        continue;
      }
      if (parents.has(dir)) continue;
      const below = lower.get(dir);
      if (below && below.type !== 'directory') throw new Error(`${path} is inside ${dir}, which a lower layer made a ${below.type}`);
      parents.set(dir, below ?? { type: 'directory', mode: 0o755, uid: 0, gid: 0 });
    }
  }

  const entries: Array<{ path: string; planned: PlannedEntry }> = [];
  const add = (path: string, info: PathInfo, extra: Partial<PlannedEntry> = {}): void => {
    const name = path.slice(1) + (info.type === 'directory' ? '/' : '');
    entries.push({ path, planned: { name, type: info.type, mode: info.mode, uid: info.uid, gid: info.gid, ...extra } });
  };
  for (const [path, info] of parents) add(path, info);
  for (const marker of markers) add(marker, { type: 'file', mode: 0o644, uid: 0, gid: 0 }, { content: { data: EMPTY } });
  for (const [path, entry] of written) {
    add(path, infoOf(entry), entry.type === 'symlink' ? { linkname: entry.target } : entry.type === 'file' ? { content: entry.content } : {});
  }
  entries.sort((left, right) => comparePaths(left.path, right.path));

  const tree = new Map(lower);
  for (const path of changes.delete) {
    tree.delete(path);
    withoutDescendants(tree, path);
  }
  for (const dir of changes.opaque) withoutDescendants(tree, dir);
  for (const [path, info] of parents) tree.set(path, info);
  for (const [path, entry] of written) {
    // A file or symlink written over a lower directory replaces the whole directory.
    if (entry.type !== 'directory' && tree.get(path)?.type === 'directory') withoutDescendants(tree, path);
    tree.set(path, infoOf(entry));
  }
  return { entries: entries.map((item) => item.planned), tree };
}

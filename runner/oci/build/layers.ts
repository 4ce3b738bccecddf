/**
 * What a layer holds before it is planned into tar entries: files, directories and symlinks at
 * image paths, plus whiteouts. Producers here are the base layer, the spec's file items and host
 * directory trees; metadata is normalized so the host only contributes content and the exec bit.
 */
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { FileItem } from './spec.js';

export type EntryContent = { data: Buffer } | { hostPath: string };

export type LayerEntry =
  | { type: 'directory'; path: string; mode: number; uid: number; gid: number }
  | { type: 'file'; path: string; mode: number; uid: number; gid: number; content: EntryContent }
  | { type: 'symlink'; path: string; target: string; uid: number; gid: number };

export interface LayerChanges {
  entries: LayerEntry[];
  /** Paths of lower layers to remove (whiteouts). */
  delete: readonly string[];
  /** Directories whose lower-layer contents are hidden (opaque markers). */
  opaque: readonly string[];
}

const APP_UID = 1000;

/** Host permissions reduce to executable or not, so umask and host quirks do not change digests. */
export function normalizedMode(hostMode: number): number {
  return hostMode & 0o111 ? 0o755 : 0o644;
}

function directory(path: string, mode = 0o755, uid = 0, gid = 0): LayerEntry {
  return { type: 'directory', path, mode, uid, gid };
}

function textFile(path: string, text: string): LayerEntry {
  return { type: 'file', path, mode: 0o644, uid: 0, gid: 0, content: { data: Buffer.from(text, 'utf8') } };
}

/** Users root, app (1000) and nobody; /tmp; the mount points a runtime fills (/dev, /proc, /sys). */
export function baseLayerEntries(): LayerEntry[] {
  return [
    directory('/dev'),
    directory('/proc'),
    directory('/sys'),
    directory('/tmp', 0o1777),
    directory('/root', 0o700),
    directory('/home'),
    directory('/home/app', 0o755, APP_UID, APP_UID),
    directory('/etc'),
    textFile(
      '/etc/passwd',
      [
        'root:x:0:0:root:/root:/usr/sbin/nologin',
        `app:x:${APP_UID}:${APP_UID}:app:/home/app:/usr/sbin/nologin`,
        'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
        '',
      ].join('\n'),
    ),
    textFile('/etc/group', ['root:x:0:', `app:x:${APP_UID}:`, 'nobody:x:65534:', ''].join('\n')),
  ];
}

export function fileItemEntries(items: readonly FileItem[]): LayerEntry[] {
  return items.map((item): LayerEntry => {
    const owner = { path: item.path, uid: item.uid, gid: item.gid };
    switch (item.type) {
      case 'source':
        return { type: 'file', ...owner, mode: item.mode, content: { hostPath: item.source } };
      case 'content':
        return { type: 'file', ...owner, mode: item.mode, content: { data: Buffer.from(item.content, 'utf8') } };
      case 'symlink':
        return { type: 'symlink', ...owner, target: item.target };
      case 'directory':
        return { type: 'directory', ...owner, mode: item.mode };
    }
  });
}

/** A host directory tree (itself included) at `imageDir`, owned by root; file contents are read later. */
export async function hostTreeEntries(hostDir: string, imageDir: string): Promise<LayerEntry[]> {
  // Subdirectories are walked concurrently; the entries keep readdir's order (layer planning sorts them).
  const children = await Promise.all(
    (await readdir(hostDir, { withFileTypes: true })).map(async (dirent): Promise<LayerEntry[]> => {
      const hostPath = join(hostDir, dirent.name);
      const imagePath = posix.join(imageDir, dirent.name);
      if (dirent.isDirectory()) return hostTreeEntries(hostPath, imagePath);
      if (dirent.isSymbolicLink()) return [{ type: 'symlink', path: imagePath, target: await readlink(hostPath), uid: 0, gid: 0 }];
      if (dirent.isFile()) return [{ type: 'file', path: imagePath, mode: normalizedMode((await lstat(hostPath)).mode), uid: 0, gid: 0, content: { hostPath } }];
      throw new Error(`${hostPath} is neither a file, a directory nor a symlink`);
    }),
  );
  return [directory(imageDir), ...children.flat()];
}

/**
 * Unpacks one layer tar into its own directory (the layer's snapshot), refusing anything that
 * could write outside that directory. node-tar only parses; every write is done here, with
 * synchronous calls (faster than the async ones for the many small files of a typical layer;
 * the decompressor keeps working on the thread pool meanwhile, and reading stops while we write).
 *
 * Safety rests on one invariant: the directory starts empty and only this writer touches it, so
 * `kinds` knows exactly what every path in it is. A path is only written after every ancestor is
 * known to be a real directory, an existing entry is removed before it is replaced, and files
 * are created with O_EXCL|O_NOFOLLOW: nothing is ever opened through a symbolic link.
 */
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lutimesSync,
  mkdirSync,
  openSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';
import { McpWarmError, type ErrorCode } from '../errors.js';
import { writeOverlayWhiteouts } from './overlay.js';
import { ancestorPaths, isSameOrBeneath, normalizeEntryPath, parentPath } from './safe-path.js';
import { classifyWhiteout } from './whiteout.js';

/** Shared by all layers of one image; decremented as entries are read. */
export interface UnpackBudget {
  bytesLeft: number;
  entriesLeft: number;
}

export interface UnpackOptions {
  budget: UnpackBudget;
  /** Names the layer in messages (its digest, usually). */
  layerName: string;
  /** Keep setuid/setgid bits (dropped by default). */
  allowSetid?: boolean;
  /** Also write whiteouts in overlayfs form (0/0 character devices, `trusted.overlay.opaque`). */
  overlayWhiteouts: boolean;
}

/** Paths are relative, '/'-separated, without a leading slash ('' is the layer's root). */
export interface LayerContents {
  /** Tar entries read, including skipped ones (devices, fifos, whiteouts). */
  entries: number;
  /** Content bytes of those entries. */
  bytes: number;
  /** Paths the layer deletes from the layers below it. */
  whiteouts: string[];
  /** Directories whose lower-layer contents the layer hides. */
  opaqueDirs: string[];
}

type Kind = 'dir' | 'file' | 'symlink';

interface Ownership {
  mode: number;
  uid: number | undefined;
  gid: number | undefined;
  mtime: Date | undefined;
}

const CREATE_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const IMPLICIT_DIR: Ownership = { mode: 0o755, uid: undefined, gid: undefined, mtime: undefined };
const GZIP_MAGIC = [0x1f, 0x8b];

class LayerWriter {
  private readonly root: string;
  private readonly uid = process.geteuid?.();
  private readonly gid = process.getegid?.();
  private readonly asRoot = this.uid === 0;
  /** Everything this layer has written, by normalized path. */
  private readonly kinds = new Map<string, Kind>();
  /** Applied once the layer is complete: writing into a directory changes its mtime. */
  private readonly directories = new Map<string, Ownership>();
  /** A parent already checked (and created); forgotten whenever anything is removed. */
  private checkedParent: string | undefined = '';
  private openFd: number | undefined;
  private readonly whiteouts = new Set<string>();
  private readonly opaqueDirs = new Set<string>();
  private entries = 0;
  private bytes = 0;

  constructor(
    dir: string,
    private readonly options: UnpackOptions,
  ) {
    this.root = resolve(dir);
  }

  add(entry: ReadEntry): void {
    const name = entry.path;
    this.count(name, entry.size);
    const path = normalizeEntryPath(name);
    if (path === undefined) throw this.refuse('UNPACK_PATH_ESCAPE', name, 'has a ".." component');
    const whiteout = path === '' ? undefined : classifyWhiteout(path);
    if (whiteout !== undefined) {
      if (whiteout.kind === 'invalid') throw this.refuse('UNPACK_PATH_ESCAPE', name, 'is a whiteout that names no entry');
      if (whiteout.kind !== 'aufs-meta') {
        // Overlay whiteouts live in the directory they whiten, so it must exist in the snapshot.
        this.checkParents(path, name, this.options.overlayWhiteouts);
        (whiteout.kind === 'opaque' ? this.opaqueDirs : this.whiteouts).add(whiteout.path);
      }
      entry.resume();
      return;
    }
    switch (entry.type) {
      case 'Directory':
      case 'GNUDumpDir':
        // The root entry ("./") is ignored, as containerd does: the snapshot directory is the caller's.
        if (path !== '') this.directory(path, name, entry);
        entry.resume();
        return;
      case 'File':
      case 'OldFile':
      case 'ContiguousFile':
        this.file(path, name, entry);
        return;
      case 'SymbolicLink':
        this.symlink(path, name, entry);
        entry.resume();
        return;
      case 'Link':
        this.hardlink(path, name, entry.linkpath ?? '');
        entry.resume();
        return;
      default:
        // Device nodes and fifos are not created: a rootfs for MCP servers has no use for them.
        entry.resume();
    }
  }

  refuse(code: ErrorCode, entryName: string, reason: string): McpWarmError {
    return new McpWarmError(code, `layer ${this.options.layerName}: entry ${JSON.stringify(entryName)} ${reason}`, {
      details: { layer: this.options.layerName, entry: entryName },
    });
  }

  /** Data after the end-of-archive blocks is read (so upstream digests get checked) but still bounded. */
  countTrailingBytes(length: number): void {
    this.options.budget.bytesLeft -= length;
    if (this.options.budget.bytesLeft < 0) throw this.limit('data after the end of the archive exceeds the byte budget');
  }

  async finish(): Promise<LayerContents> {
    if (this.options.overlayWhiteouts) {
      const whiteouts = [...this.whiteouts];
      await writeOverlayWhiteouts(this.root, {
        // A file or symlink this layer provides at a whited-out path hides the lower one already;
        devices: whiteouts.filter((path) => !this.kinds.has(path) && this.underRealDirectories(path)),
        // a directory would merge with the lower one, so it becomes opaque instead.
        opaqueDirs: [...new Set([...this.opaqueDirs, ...whiteouts])].filter((path) => path === '' || this.kinds.get(path) === 'dir'),
        layerName: this.options.layerName,
      });
    }
    for (const [path, ownership] of this.directories) {
      const absolute = this.absolute(path);
      if (this.asRoot && ownership.uid !== undefined && ownership.gid !== undefined) {
        chownSync(absolute, ownership.uid, ownership.gid);
      }
      chmodSync(absolute, ownership.mode);
      if (ownership.mtime !== undefined) utimesSync(absolute, ownership.mtime, ownership.mtime);
    }
    return {
      entries: this.entries,
      bytes: this.bytes,
      whiteouts: [...this.whiteouts],
      opaqueDirs: [...this.opaqueDirs],
    };
  }

  /** Closes a file left open by a failed unpack. */
  close(): void {
    if (this.openFd !== undefined) closeSync(this.openFd);
    this.openFd = undefined;
  }

  private count(name: string, size: number): void {
    const budget = this.options.budget;
    this.entries += 1;
    this.bytes += size;
    budget.entriesLeft -= 1;
    budget.bytesLeft -= size;
    if (budget.entriesLeft < 0) throw this.limit(`entry ${JSON.stringify(name)} exceeds the entry budget`);
    if (budget.bytesLeft < 0) {
      throw this.limit(`entry ${JSON.stringify(name)} (${size} bytes) exceeds the byte budget`);
    }
  }

  private limit(reason: string): McpWarmError {
    return new McpWarmError('UNPACK_LIMIT_EXCEEDED', `layer ${this.options.layerName}: ${reason}`, {
      details: { layer: this.options.layerName },
    });
  }

  private absolute(path: string): string {
    return `${this.root}/${path}`;
  }

  private permissions(mode: number | undefined, fallback: number): number {
    return (mode ?? fallback) & (this.options.allowSetid ? 0o7777 : 0o1777);
  }

  private ownership(entry: ReadEntry, fallbackMode: number): Ownership {
    return { mode: this.permissions(entry.mode, fallbackMode), uid: entry.uid, gid: entry.gid, mtime: entry.mtime };
  }

  /** Checks that every ancestor of `path` is a directory this layer made, creating missing ones. */
  private checkParents(path: string, name: string, create = true): void {
    const parent = parentPath(path);
    if (parent === this.checkedParent) return;
    for (const ancestor of ancestorPaths(path)) {
      const kind = this.kinds.get(ancestor);
      if (kind === 'dir') continue;
      if (kind === 'symlink') {
        throw this.refuse('UNPACK_SYMLINK_TRAVERSAL', name, `would be written through the symbolic link ${JSON.stringify(ancestor)}`);
      }
      if (kind === 'file') throw this.refuse('UNPACK_CORRUPT', name, `has the regular file ${JSON.stringify(ancestor)} as a parent`);
      if (!create) return;
      mkdirSync(this.absolute(ancestor), 0o700);
      this.kinds.set(ancestor, 'dir');
      this.directories.set(ancestor, IMPLICIT_DIR);
    }
    if (create) this.checkedParent = parent;
  }

  private underRealDirectories(path: string): boolean {
    return ancestorPaths(path).every((ancestor) => this.kinds.get(ancestor) === 'dir');
  }

  /** A directory over a directory merges; anything else replaces what was there. */
  private removeExisting(path: string): void {
    const kind = this.kinds.get(path);
    if (kind === undefined) return;
    if (kind === 'dir') {
      rmSync(this.absolute(path), { recursive: true, force: true });
      for (const known of this.kinds.keys()) {
        if (isSameOrBeneath(known, path)) {
          this.kinds.delete(known);
          this.directories.delete(known);
        }
      }
    } else {
      unlinkSync(this.absolute(path));
      this.kinds.delete(path);
    }
    this.checkedParent = undefined;
  }

  private directory(path: string, name: string, entry: ReadEntry): void {
    this.checkParents(path, name);
    if (this.kinds.get(path) !== 'dir') {
      this.removeExisting(path);
      // Owner-only while unpacking; the final mode is applied by finish().
      mkdirSync(this.absolute(path), 0o700);
      this.kinds.set(path, 'dir');
    }
    this.directories.set(path, this.ownership(entry, 0o755));
  }

  private file(path: string, name: string, entry: ReadEntry): void {
    if (path === '') throw this.refuse('UNPACK_PATH_ESCAPE', name, "names the layer's root");
    this.checkParents(path, name);
    this.removeExisting(path);
    const fd = openSync(this.absolute(path), CREATE_FILE, 0o600);
    this.openFd = fd;
    this.kinds.set(path, 'file');
    const ownership = this.ownership(entry, 0o644);
    entry.on('data', (chunk: Buffer) => {
      for (let offset = 0; offset < chunk.length; ) offset += writeSync(fd, chunk, offset);
    });
    entry.on('end', () => {
      this.openFd = undefined;
      try {
        // chown clears setuid/setgid, so it comes before chmod.
        if (this.needsChown(ownership)) fchownSync(fd, ownership.uid!, ownership.gid!);
        fchmodSync(fd, ownership.mode);
        if (ownership.mtime !== undefined) futimesSync(fd, ownership.mtime, ownership.mtime);
      } finally {
        closeSync(fd);
      }
    });
  }

  private needsChown(ownership: Ownership): boolean {
    return (
      this.asRoot &&
      ownership.uid !== undefined &&
      ownership.gid !== undefined &&
      // New files already belong to us: no directory is setgid while unpacking.
      (ownership.uid !== this.uid || ownership.gid !== this.gid)
    );
  }

  private symlink(path: string, name: string, entry: ReadEntry): void {
    const target = entry.linkpath ?? '';
    if (path === '') throw this.refuse('UNPACK_PATH_ESCAPE', name, "names the layer's root");
    if (target === '' || target.includes('\0')) throw this.refuse('UNPACK_CORRUPT', name, 'has an invalid link target');
    this.checkParents(path, name);
    this.removeExisting(path);
    const absolute = this.absolute(path);
    // The target is stored as text and never followed here, whatever it names.
    symlinkSync(target, absolute);
    this.kinds.set(path, 'symlink');
    const ownership = this.ownership(entry, 0o777);
    if (this.needsChown(ownership)) lchownSync(absolute, ownership.uid!, ownership.gid!);
    if (ownership.mtime !== undefined) lutimesSync(absolute, ownership.mtime, ownership.mtime);
  }

  private hardlink(path: string, name: string, linkname: string): void {
    const target = normalizeEntryPath(linkname);
    if (path === '') throw this.refuse('UNPACK_PATH_ESCAPE', name, "names the layer's root");
    if (target === undefined || target === '') {
      throw this.refuse('UNPACK_PATH_ESCAPE', name, `is a hard link to ${JSON.stringify(linkname)}, outside the layer`);
    }
    if (target === path) return;
    this.checkParents(path, name);
    this.removeExisting(path);
    const through = ancestorPaths(target).find((ancestor) => this.kinds.get(ancestor) === 'symlink');
    if (through !== undefined) {
      throw this.refuse('UNPACK_SYMLINK_TRAVERSAL', name, `is a hard link through the symbolic link ${JSON.stringify(through)}`);
    }
    const kind = this.kinds.get(target);
    if (kind !== 'file' && kind !== 'symlink') {
      throw this.refuse(
        'UNPACK_PATH_ESCAPE',
        name,
        `is a hard link to ${JSON.stringify(linkname)}, which is not a file or symbolic link written earlier in this layer`,
      );
    }
    // link(2) does not follow a symbolic link target on Linux: the new name is that symlink.
    linkSync(this.absolute(target), this.absolute(path));
    this.kinds.set(path, kind);
  }
}

/**
 * Unpacks an (already decompressed) layer tar into `dir`, an existing empty directory.
 * Rejects with a coded error naming the offending entry; the caller removes `dir` then.
 * Reads `tar` to its end even past the end-of-archive blocks, so an upstream digest check runs.
 */
export async function unpackLayer(tar: Readable, dir: string, options: UnpackOptions): Promise<LayerContents> {
  const writer = new LayerWriter(dir, options);
  const corrupt = (reason: string): McpWarmError =>
    new McpWarmError('UNPACK_CORRUPT', `layer ${options.layerName}: not a valid tar archive: ${reason}`, {
      details: { layer: options.layerName },
    });
  // brotli/zstd sniffing is off: the media type decides the encoding. Gzip sniffing cannot be
  // turned off, so gzip magic is refused below before the parser sees it.
  const parser = new Parser({ brotli: false, zstd: false });
  let sawEndOfArchive = false;
  let bytesParsed = 0;
  let head: Buffer | undefined = Buffer.alloc(0);
  parser.on('entry', (entry: ReadEntry) => writer.add(entry));
  parser.on('eof', () => {
    sawEndOfArchive = true;
  });
  parser.on('ignoredEntry', (entry: ReadEntry) => {
    throw writer.refuse('UNPACK_CORRUPT', entry.path, `has an unsupported type (${entry.type})`);
  });
  parser.on('warn', (code: string, message: string) => {
    // An archive of nothing but end-of-archive blocks (or no bytes at all) is an empty layer.
    if (code === 'TAR_BAD_ARCHIVE' && (sawEndOfArchive || bytesParsed === 0)) return;
    throw corrupt(message);
  });
  parser.on('error', (error: Error) => {
    throw corrupt(error.message);
  });
  const ended = new Promise((resolveEnd) => parser.once('end', resolveEnd));
  const feed = (chunk: Buffer): void => {
    bytesParsed += chunk.length;
    parser.write(chunk);
  };
  try {
    for await (const data of tar) {
      let chunk = data as Buffer;
      if (sawEndOfArchive) {
        writer.countTrailingBytes(chunk.length);
        continue;
      }
      if (head !== undefined) {
        chunk = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
        if (chunk.length < GZIP_MAGIC.length) {
          head = chunk;
          continue;
        }
        head = undefined;
        if (chunk[0] === GZIP_MAGIC[0] && chunk[1] === GZIP_MAGIC[1]) {
          throw corrupt('the data is gzip-compressed, but the layer media type does not say so');
        }
      }
      feed(chunk);
    }
    if (head !== undefined && head.length > 0) feed(head);
    parser.end();
    await ended;
    return await writer.finish();
  } finally {
    writer.close();
  }
}

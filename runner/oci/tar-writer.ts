/**
 * A deterministic tar writer (ustar headers, PAX extended headers for long names and link names).
 * The same entries always give the same bytes: no user or group names, no access times, fixed
 * header fields. Used by the image builder and by tests that need hand-made (even hostile) layers,
 * so names are written exactly as given, `..` and leading `/` included.
 */
import { Readable } from 'node:stream';

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  path: string;
  type: TarEntryType;
  /** Permission bits, setuid/setgid/sticky included. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch. */
  mtime?: number;
  /** Target of a symlink or hardlink. */
  linkname?: string;
  /** Content of a regular file. */
  data?: Buffer;
  devmajor?: number;
  devminor?: number;
}

const BLOCK = 512;
const TYPE_FLAGS: Record<TarEntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  directory: '5',
  fifo: '6',
};

function octal(value: number, width: number): string {
  // width includes the terminating NUL
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function writeString(header: Buffer, offset: number, width: number, value: string): void {
  header.write(value, offset, Math.min(width, Buffer.byteLength(value)), 'utf8');
}

function paxRecord(key: string, value: string): string {
  // Each record is "<len> <key>=<value>\n" where <len> counts itself.
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) length += 1;
  return `${length}${body}`;
}

function header(fields: {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  devmajor: number;
  devminor: number;
}): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeString(block, 0, 100, fields.name);
  writeString(block, 100, 8, octal(fields.mode & 0o7777, 8));
  writeString(block, 108, 8, octal(fields.uid, 8));
  writeString(block, 116, 8, octal(fields.gid, 8));
  writeString(block, 124, 12, octal(fields.size, 12));
  writeString(block, 136, 12, octal(fields.mtime, 12));
  block.fill(' ', 148, 156);
  writeString(block, 156, 1, fields.typeflag);
  writeString(block, 157, 100, fields.linkname);
  writeString(block, 257, 6, 'ustar\0');
  writeString(block, 263, 2, '00');
  writeString(block, 329, 8, octal(fields.devmajor, 8));
  writeString(block, 337, 8, octal(fields.devminor, 8));
  let checksum = 0;
  for (const byte of block) checksum += byte;
  writeString(block, 148, 8, `${checksum.toString(8).padStart(6, '0')}\0 `);
  return block;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}

/** The header blocks (PAX extension first when needed), content and padding of one entry. */
export function encodeTarEntry(entry: TarEntry): Buffer[] {
  const data = entry.type === 'file' ? (entry.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
  const linkname = entry.linkname ?? '';
  const mtime = entry.mtime ?? 0;
  const pax: string[] = [];
  if (Buffer.byteLength(entry.path) > 100) pax.push(paxRecord('path', entry.path));
  if (Buffer.byteLength(linkname) > 100) pax.push(paxRecord('linkpath', linkname));
  const parts: Buffer[] = [];
  if (pax.length > 0) {
    const body = Buffer.from(pax.join(''), 'utf8');
    parts.push(
      header({ name: 'PaxHeader', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime, typeflag: 'x', linkname: '', devmajor: 0, devminor: 0 }),
      body,
      padding(body.length),
    );
  }
  const defaultMode = entry.type === 'directory' ? 0o755 : entry.type === 'symlink' ? 0o777 : 0o644;
  parts.push(
    header({
      name: entry.path,
      mode: entry.mode ?? defaultMode,
      uid: entry.uid ?? 0,
      gid: entry.gid ?? 0,
      size: data.length,
      mtime,
      typeflag: TYPE_FLAGS[entry.type],
      linkname,
      devmajor: entry.devmajor ?? 0,
      devminor: entry.devminor ?? 0,
    }),
  );
  if (data.length > 0) parts.push(data, padding(data.length));
  return parts;
}

/** Two zero blocks end an archive. */
export const TAR_TRAILER = Buffer.alloc(BLOCK * 2);

/** A whole archive in memory (small layers and tests). */
export function tarBuffer(entries: Iterable<TarEntry>): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) parts.push(...encodeTarEntry(entry));
  parts.push(TAR_TRAILER);
  return Buffer.concat(parts);
}

/** An archive as a stream, for layers too large to hold at once. */
export function tarStream(entries: AsyncIterable<TarEntry> | Iterable<TarEntry>): Readable {
  return Readable.from(
    (async function* generate() {
      for await (const entry of entries) yield* encodeTarEntry(entry);
      yield TAR_TRAILER;
    })(),
  );
}

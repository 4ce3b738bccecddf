/**
 * Writes a planned layer as a gzip-compressed tar file, streaming: file contents are read one at a
 * time, and the uncompressed (diff ID) and compressed (blob) digests are taken on the way.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { tarStream, type TarEntry } from '../tar-writer.js';
import { MEDIA_TYPES, type Descriptor } from '../types.js';
import type { PlannedEntry } from './layer-plan.js';

/** Fixed, so the same tar always compresses to the same bytes (Node's gzip header has mtime 0 and no name). */
const GZIP_LEVEL = 6;

export interface LayerBlob {
  descriptor: Descriptor;
  /** Digest of the uncompressed tar (the config's rootfs.diff_ids). */
  diffId: string;
  /** The compressed blob on disk. */
  file: string;
}

class HashTap extends Transform {
  private readonly hash = createHash('sha256');
  size = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    callback(null, chunk);
  }

  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

async function* tarEntries(entries: readonly PlannedEntry[], mtime: number): AsyncGenerator<TarEntry> {
  for (const { name, type, mode, uid, gid, linkname, content } of entries) {
    const data = content === undefined ? undefined : 'data' in content ? content.data : await readFile(content.hostPath);
    yield { path: name, type, mode, uid, gid, mtime, linkname, data };
  }
}

export async function writeLayerBlob(entries: readonly PlannedEntry[], mtime: number, file: string): Promise<LayerBlob> {
  const uncompressed = new HashTap();
  const compressed = new HashTap();
  await pipeline(tarStream(tarEntries(entries, mtime)), uncompressed, createGzip({ level: GZIP_LEVEL }), compressed, createWriteStream(file));
  return {
    descriptor: { mediaType: MEDIA_TYPES.ociLayerGzip, digest: compressed.digest(), size: compressed.size },
    diffId: uncompressed.digest(),
    file,
  };
}

/**
 * Content-addressed blobs: `blobs/sha256/<hex>`. A blob is written to a temporary file, verified,
 * then renamed into place, so a reader never sees a partial or unverified blob. A blob that no
 * longer matches its digest (disk corruption, tampering) is removed when read and counts as a miss.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { digestHex, sha256Digest, verifyContent } from '../digest.js';

export class BlobStore {
  readonly dir: string;

  constructor(
    root: string,
    private readonly tmpDir: string,
  ) {
    this.dir = join(root, 'blobs', 'sha256');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  path(digest: string): string {
    return join(this.dir, digestHex(digest));
  }

  async has(digest: string): Promise<boolean> {
    try {
      await stat(this.path(digest));
      return true;
    } catch {
      return false;
    }
  }

  /** Verifies and stores bytes (manifests, configs, small layers). */
  async putBytes(expected: { digest: string; size?: number }, bytes: Buffer, what: string): Promise<void> {
    verifyContent(bytes, expected, what);
    const tmp = this.tempPath();
    await writeFile(tmp, bytes);
    await rename(tmp, this.path(expected.digest));
  }

  /** The blob's bytes if present and intact; a corrupt blob is removed. Marks the blob as used. */
  async readVerified(digest: string): Promise<Buffer | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.path(digest));
    } catch {
      return undefined;
    }
    if (sha256Digest(bytes) !== digest) {
      await rm(this.path(digest), { force: true });
      return undefined;
    }
    await this.touch(digest);
    return bytes;
  }

  /** A temporary file to stream a blob into; `commit` after the stream was verified, `discard` otherwise. */
  createWriter(): { stream: Writable; commit(digest: string): Promise<void>; discard(): Promise<void> } {
    const tmp = this.tempPath();
    const stream = createWriteStream(tmp);
    return {
      stream,
      commit: async (digest: string) => {
        await rename(tmp, this.path(digest));
      },
      discard: async () => {
        stream.destroy();
        await rm(tmp, { force: true });
      },
    };
  }

  async touch(digest: string): Promise<void> {
    const now = new Date();
    await utimes(this.path(digest), now, now).catch(() => undefined);
  }

  async remove(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }

  private tempPath(): string {
    return join(this.tmpDir, `blob-${randomBytes(8).toString('hex')}`);
  }
}

/**
 * Layer snapshots: each layer unpacked once, alone, into `snapshots/<hex>/fs`, with its whiteouts
 * recorded in `snapshots/<hex>/meta.json`. A snapshot is prepared in a temporary directory and
 * renamed into place whole, after its blob was verified, so a present snapshot is always complete.
 * Snapshots are never written after publication (they are the read-only lower layers of every rootfs).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestHex } from '../digest.js';
import type { LayerContents } from '../unpack.js';

export interface SnapshotRecord extends LayerContents {
  digest: string;
  mediaType: string;
  /** The unpacked tree (absolute path). */
  dir: string;
  /** Whether overlayfs whiteout markers exist in the tree besides the recorded lists. */
  overlayWhiteouts: boolean;
  createdAt: string;
}

type StoredRecord = Omit<SnapshotRecord, 'dir'>;

const META = 'meta.json';
const TREE = 'fs';

export interface PreparedSnapshot {
  /** Where the layer is to be unpacked. */
  treeDir: string;
  publish(record: Omit<SnapshotRecord, 'dir' | 'createdAt'>): Promise<SnapshotRecord>;
  discard(): Promise<void>;
}

export class SnapshotStore {
  readonly dir: string;

  constructor(
    root: string,
    private readonly tmpDir: string,
  ) {
    this.dir = join(root, 'snapshots');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  private home(digest: string): string {
    return join(this.dir, digestHex(digest));
  }

  /** The snapshot of a layer if present; marks it as used. */
  async get(digest: string): Promise<SnapshotRecord | undefined> {
    const home = this.home(digest);
    let stored: StoredRecord;
    try {
      stored = JSON.parse(await readFile(join(home, META), 'utf8')) as StoredRecord;
    } catch {
      return undefined;
    }
    const now = new Date();
    await utimes(join(home, META), now, now).catch(() => undefined);
    return { ...stored, dir: join(home, TREE) };
  }

  async prepare(): Promise<PreparedSnapshot> {
    const work = join(this.tmpDir, `snapshot-${randomBytes(8).toString('hex')}`);
    const treeDir = join(work, TREE);
    await mkdir(treeDir, { recursive: true });
    return {
      treeDir,
      publish: async (record) => {
        const stored: StoredRecord = { ...record, createdAt: new Date().toISOString() };
        await writeFile(join(work, META), JSON.stringify(stored));
        try {
          await rename(work, this.home(record.digest));
        } catch (error) {
          // Another process published the same layer first: keep theirs, drop ours.
          const code = (error as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
          await rm(work, { recursive: true, force: true });
        }
        const published = await this.get(record.digest);
        if (!published) throw new Error(`snapshot ${record.digest} vanished after publication`);
        return published;
      },
      discard: async () => {
        await rm(work, { recursive: true, force: true });
      },
    };
  }

  /** Digests of every published snapshot, with their size and last use, for budgeting. */
  async list(): Promise<Array<{ digest: string; bytes: number; lastUsedMs: number }>> {
    const found: Array<{ digest: string; bytes: number; lastUsedMs: number }> = [];
    for (const hex of await readdir(this.dir).catch(() => [] as string[])) {
      const meta = join(this.dir, hex, META);
      try {
        const [info, text] = await Promise.all([stat(meta), readFile(meta, 'utf8')]);
        const record = JSON.parse(text) as StoredRecord;
        found.push({ digest: record.digest, bytes: record.bytes, lastUsedMs: info.mtimeMs });
      } catch {
        // an unreadable entry is not a published snapshot
      }
    }
    return found;
  }

  /** Removes a snapshot: renamed out of the way first, so it disappears at once. */
  async remove(digest: string): Promise<void> {
    const doomed = join(this.tmpDir, `evicted-${randomBytes(8).toString('hex')}`);
    try {
      await rename(this.home(digest), doomed);
    } catch {
      return;
    }
    await rm(doomed, { recursive: true, force: true });
  }
}

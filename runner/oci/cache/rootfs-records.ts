/**
 * Records of the root filesystems composed from the cache (`rootfs/<id>.json`, scratch in
 * `rootfs/<id>/`). They let a later process release a rootfs it did not compose, and they mark the
 * snapshots under a live rootfs as in use, so eviction never pulls a lower layer from under a mount.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ComposeMode } from '../rootfs.js';

export interface RootfsRecord {
  id: string;
  target: string;
  mode: ComposeMode;
  scratchDir: string;
  image: string;
  snapshots: string[];
  createdAt: string;
}

export class RootfsRecords {
  readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, 'rootfs');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  /** A fresh id and the scratch directory that goes with it (not created). */
  allocate(): { id: string; scratchDir: string } {
    const id = randomBytes(6).toString('hex');
    return { id, scratchDir: join(this.dir, id) };
  }

  async save(record: RootfsRecord): Promise<void> {
    await writeFile(join(this.dir, `${record.id}.json`), JSON.stringify(record, null, 2));
  }

  async list(): Promise<RootfsRecord[]> {
    const records: RootfsRecord[] = [];
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (!name.endsWith('.json')) continue;
      try {
        records.push(JSON.parse(await readFile(join(this.dir, name), 'utf8')) as RootfsRecord);
      } catch {
        // a record being written or removed concurrently
      }
    }
    return records;
  }

  async findByTarget(target: string): Promise<RootfsRecord | undefined> {
    const wanted = resolve(target);
    return (await this.list()).find((record) => record.target === wanted);
  }

  async remove(id: string): Promise<void> {
    await rm(join(this.dir, `${id}.json`), { force: true });
  }
}

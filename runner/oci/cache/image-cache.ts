/**
 * The node's image cache: verified blobs, layer snapshots and records of composed root
 * filesystems under one directory, kept within a byte budget by evicting the least recently used
 * entries that no rootfs and no running pull is using.
 */
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { McpWarmError } from '../../errors.js';
import { formatBytes, parseByteSize } from '../../byte-size.js';
import { BlobStore } from './blob-store.js';
import { SnapshotStore } from './snapshot-store.js';
import { RootfsRecords } from './rootfs-records.js';
import { planEviction, type CacheEntry } from './eviction.js';

export const DEFAULT_CACHE_BUDGET = '10Gi';

export interface ImageCacheOptions {
  dir: string;
  /** Bytes, or a size such as `10Gi`; default IMAGE_CACHE_SIZE from the environment, else 10Gi. */
  budget?: number | string;
}

export const blobKey = (digest: string): string => `blob:${digest}`;
export const snapshotKey = (digest: string): string => `snapshot:${digest}`;

export class ImageCache {
  readonly dir: string;
  readonly budgetBytes: number;
  readonly blobs: BlobStore;
  readonly snapshots: SnapshotStore;
  readonly rootfs: RootfsRecords;
  private readonly tmpDir: string;
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private readonly leases = new Map<string, number>();

  private constructor(dir: string, budgetBytes: number) {
    this.dir = dir;
    this.budgetBytes = budgetBytes;
    this.tmpDir = join(dir, 'tmp');
    this.blobs = new BlobStore(dir, this.tmpDir);
    this.snapshots = new SnapshotStore(dir, this.tmpDir);
    this.rootfs = new RootfsRecords(dir);
  }

  static async open(options: ImageCacheOptions): Promise<ImageCache> {
    const budget = options.budget ?? process.env.IMAGE_CACHE_SIZE ?? DEFAULT_CACHE_BUDGET;
    const budgetBytes = typeof budget === 'number' ? budget : parseByteSize(budget, 'image cache budget');
    const cache = new ImageCache(resolve(options.dir), budgetBytes);
    await mkdir(cache.tmpDir, { recursive: true });
    await Promise.all([cache.blobs.init(), cache.snapshots.init(), cache.rootfs.init()]);
    return cache;
  }

  /**
   * Clears leftovers of interrupted pulls. Only safe when no other process is pulling into this
   * cache (the agent calls it at start-up, when it owns the cache).
   */
  async clearTemporary(): Promise<void> {
    for (const name of await readdir(this.tmpDir).catch(() => [] as string[])) {
      await rm(join(this.tmpDir, name), { recursive: true, force: true });
    }
  }

  /** Runs `work` once per key at a time: concurrent callers for the same key share its result. */
  singleFlight<T>(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key);
    if (running) return running as Promise<T>;
    const started = work().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, started);
    return started;
  }

  /** Protects entries from eviction while this process uses them; call the returned function to let go. */
  lease(keys: readonly string[]): () => void {
    for (const key of keys) this.leases.set(key, (this.leases.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const key of keys) {
        const count = (this.leases.get(key) ?? 1) - 1;
        if (count <= 0) this.leases.delete(key);
        else this.leases.set(key, count);
      }
    };
  }

  async entries(): Promise<CacheEntry[]> {
    const entries: CacheEntry[] = [];
    for (const hex of await readdir(this.blobs.dir).catch(() => [] as string[])) {
      try {
        const info = await stat(join(this.blobs.dir, hex));
        entries.push({ key: blobKey(`sha256:${hex}`), bytes: info.size, lastUsedMs: info.mtimeMs });
      } catch {
        // evicted meanwhile
      }
    }
    for (const snapshot of await this.snapshots.list()) {
      entries.push({ key: snapshotKey(snapshot.digest), bytes: snapshot.bytes, lastUsedMs: snapshot.lastUsedMs });
    }
    return entries;
  }

  /** Keys no eviction may touch: leased by this process, or under a composed rootfs of any process. */
  async protectedKeys(): Promise<Set<string>> {
    const keys = new Set(this.leases.keys());
    for (const record of await this.rootfs.list()) {
      for (const digest of record.snapshots) keys.add(snapshotKey(digest));
    }
    return keys;
  }

  /** Evicts every entry nothing uses (no rootfs over it, no pull running); returns what went. */
  async prune(): Promise<{ evicted: CacheEntry[]; bytesAfter: number }> {
    return this.evictTo(0, false);
  }

  /**
   * Evicts unused entries until the cache fits its budget. Throws CACHE_BUDGET_EXCEEDED when the
   * entries in use alone exceed it (after evicting everything else).
   */
  async enforceBudget(): Promise<{ evicted: CacheEntry[]; bytesAfter: number }> {
    return this.evictTo(this.budgetBytes, true);
  }

  private async evictTo(budgetBytes: number, mustFit: boolean): Promise<{ evicted: CacheEntry[]; bytesAfter: number }> {
    const plan = planEviction(await this.entries(), budgetBytes, await this.protectedKeys());
    for (const entry of plan.evict) {
      const [kind, digest] = splitKey(entry.key);
      if (kind === 'blob') await this.blobs.remove(digest);
      else await this.snapshots.remove(digest);
    }
    if (mustFit && plan.overBudget) {
      throw new McpWarmError(
        'CACHE_BUDGET_EXCEEDED',
        `entries in use hold ${formatBytes(plan.bytesAfter)}, over the cache budget of ${formatBytes(this.budgetBytes)}`,
        { details: { bytesInUse: plan.bytesAfter, budgetBytes: this.budgetBytes } },
      );
    }
    return { evicted: plan.evict, bytesAfter: plan.bytesAfter };
  }
}

function splitKey(key: string): ['blob' | 'snapshot', string] {
  const at = key.indexOf(':');
  return [key.slice(0, at) as 'blob' | 'snapshot', key.slice(at + 1)];
}

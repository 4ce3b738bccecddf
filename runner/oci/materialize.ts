/**
 * A rootfs for a pulled image, composed from its cached snapshots and recorded in the cache so that
 * its snapshots stay protected from eviction and any later process can release it.
 */
import { performance } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { McpWarmError } from '../errors.js';
import { snapshotKey, type ImageCache } from './cache/image-cache.js';
import type { RootfsRecord } from './cache/rootfs-records.js';
import type { PulledImage } from './puller.js';
import { composeRootfs, releaseRootfs, type ComposeMode } from './rootfs.js';

export interface MaterializedRootfs {
  id: string;
  target: string;
  mode: ComposeMode;
  /** Time to compose (mount, or link/copy) the snapshots. */
  composeMs: number;
}

export async function materializeRootfs(
  cache: ImageCache,
  image: Pick<PulledImage, 'reference' | 'snapshots'>,
  target: string,
  mode: ComposeMode | 'auto',
): Promise<MaterializedRootfs> {
  const { id, scratchDir } = cache.rootfs.allocate();
  const digests = image.snapshots.map((snapshot) => snapshot.digest);
  const release = cache.lease(digests.map(snapshotKey));
  try {
    // Snapshots made where overlay markers could not be written only work in the plain modes.
    const markersMissing = image.snapshots.some(
      (s) => !s.overlayWhiteouts && (s.whiteouts.length > 0 || s.opaqueDirs.length > 0),
    );
    const start = performance.now();
    const rootfs = await composeRootfs({
      layers: image.snapshots,
      target: resolve(target),
      scratchDir,
      mode: mode === 'auto' && markersMissing ? 'hardlink' : mode,
    });
    const composeMs = performance.now() - start;
    const record: RootfsRecord = {
      id,
      target: rootfs.target,
      mode: rootfs.mode,
      scratchDir,
      image: image.reference,
      snapshots: digests,
      createdAt: new Date().toISOString(),
    };
    await cache.rootfs.save(record).catch(async (error: unknown) => {
      await releaseRootfs(rootfs);
      throw error;
    });
    return { id, target: rootfs.target, mode: rootfs.mode, composeMs };
  } finally {
    release();
  }
}

/** Unmounts or removes a rootfs composed from this cache and drops its record. */
export async function releaseMaterializedRootfs(cache: ImageCache, target: string): Promise<RootfsRecord> {
  const record = await cache.rootfs.findByTarget(target);
  if (!record) {
    throw new McpWarmError('ROOTFS_NOT_FOUND', `no rootfs composed from ${cache.dir} is recorded at ${resolve(target)}`);
  }
  await releaseRootfs({ target: record.target, mode: record.mode, scratchDir: record.scratchDir });
  await cache.rootfs.remove(record.id);
  return record;
}

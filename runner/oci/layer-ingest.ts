/**
 * Brings one layer into the cache as a snapshot, streaming: the bytes are verified against the
 * layer digest, written to the blob store and decompressed into the unpacker at the same time.
 * Blob and snapshot are published only when the digest and size matched and the unpack succeeded;
 * anything else discards both, so a bad download never becomes a cache entry.
 */
import { createReadStream } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { finished } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { McpWarmError } from '../errors.js';
import { DigestVerifier } from './digest.js';
import { checkLayerMediaType } from './decompress.js';
import type { LayerContents, UnpackBudget } from './unpack.js';
import { sharedUnpackPool } from './unpack-pool.js';
import type { ImageCache } from './cache/image-cache.js';
import { snapshotKey } from './cache/image-cache.js';
import type { SnapshotRecord } from './cache/snapshot-store.js';
import type { ImageSource } from './source.js';
import type { Descriptor } from './types.js';

export interface UnpackLimits {
  maxUnpackedBytes: number;
  maxEntries: number;
}

export const DEFAULT_UNPACK_LIMITS: UnpackLimits = { maxUnpackedBytes: 8 * 2 ** 30, maxEntries: 1_000_000 };

export interface LayerIngestContext {
  cache: ImageCache;
  source: ImageSource;
  limits: UnpackLimits;
  allowSetid: boolean;
  overlayWhiteouts: boolean;
  /**
   * Also store compressed layer blobs. Off by default, as containerd's `discard_unpacked_layers`:
   * the snapshot is what activations use, and writing the blob too costs a third more I/O on the
   * cold path. With blobs kept, a snapshot evicted alone is unpacked again without a download.
   */
  keepLayerBlobs: boolean;
}

export interface IngestedLayer {
  descriptor: Descriptor;
  snapshot: SnapshotRecord;
  snapshotHit: boolean;
  blobHit: boolean;
  /** performance.now() when the last byte was received (the start time for a hit). */
  receivedAt: number;
  /** performance.now() when the snapshot was ready. */
  readyAt: number;
}

/** Ingests a layer (or finds its snapshot) and charges its size against the image's unpack budget. */
export async function ingestLayer(context: LayerIngestContext, descriptor: Descriptor, budget: UnpackBudget): Promise<IngestedLayer> {
  const start = performance.now();
  const cached = await context.cache.snapshots.get(descriptor.digest);
  const layer: IngestedLayer = cached
    ? { descriptor, snapshot: cached, snapshotHit: true, blobHit: true, receivedAt: start, readyAt: performance.now() }
    : await context.cache.singleFlight(snapshotKey(descriptor.digest), () => unpackIntoSnapshot(context, descriptor));
  chargeBudget(budget, layer.snapshot);
  return layer;
}

function chargeBudget(budget: UnpackBudget, snapshot: SnapshotRecord): void {
  budget.bytesLeft -= snapshot.bytes;
  budget.entriesLeft -= snapshot.entries;
  if (budget.bytesLeft < 0 || budget.entriesLeft < 0) {
    throw new McpWarmError(
      'UNPACK_LIMIT_EXCEEDED',
      `the image unpacks to more ${budget.bytesLeft < 0 ? 'bytes' : 'entries'} than allowed (at layer ${snapshot.digest})`,
      { details: { layer: snapshot.digest } },
    );
  }
}

async function unpackIntoSnapshot(context: LayerIngestContext, descriptor: Descriptor): Promise<IngestedLayer> {
  const again = await context.cache.snapshots.get(descriptor.digest);
  if (again) return { descriptor, snapshot: again, snapshotHit: true, blobHit: true, receivedAt: performance.now(), readyAt: performance.now() };
  if (await context.cache.blobs.has(descriptor.digest)) {
    try {
      return await streamLayer(context, descriptor, true);
    } catch (error) {
      // A stored blob that no longer verifies is dropped and fetched again from the source.
      if (!isIntegrityError(error)) throw error;
      await context.cache.blobs.remove(descriptor.digest);
    }
  }
  return streamLayer(context, descriptor, false);
}

function isIntegrityError(error: unknown): boolean {
  return error instanceof McpWarmError && (error.code === 'BLOB_DIGEST_MISMATCH' || error.code === 'BLOB_SIZE_MISMATCH');
}

async function streamLayer(context: LayerIngestContext, descriptor: Descriptor, fromCache: boolean): Promise<IngestedLayer> {
  checkLayerMediaType(descriptor.mediaType);
  const prepared = await context.cache.snapshots.prepare();
  const writer = fromCache || !context.keepLayerBlobs ? undefined : context.cache.blobs.createWriter();
  // Each layer alone is held to the image's limits while it streams; the image total is charged after.
  const job = sharedUnpackPool().unpack(descriptor.mediaType, prepared.treeDir, {
    budget: { bytesLeft: context.limits.maxUnpackedBytes, entriesLeft: context.limits.maxEntries },
    layerName: descriptor.digest,
    allowSetid: context.allowSetid,
    overlayWhiteouts: context.overlayWhiteouts,
  });
  let input: Readable | undefined;
  try {
    input = fromCache ? createReadStream(context.cache.blobs.path(descriptor.digest)) : await context.source.openBlob(descriptor);
    const verifier = new DigestVerifier(descriptor, `layer ${descriptor.digest}`);
    input.on('error', (error) => verifier.destroy(error));
    verifier.on('error', (error) => {
      job.input.destroy(error);
      writer?.stream.destroy(error);
    });
    // An unpack failure stops the download at once (nothing would be kept of it anyway).
    job.result.catch((error: unknown) => verifier.destroy(error instanceof Error ? error : new Error(String(error))));
    input.pipe(verifier);
    verifier.pipe(job.input);
    if (writer) verifier.pipe(writer.stream);

    let receivedAt = 0;
    const verified = finished(verifier, { writable: false }).then(() => {
      receivedAt = performance.now();
    });
    const written = writer ? finished(writer.stream) : Promise.resolve();
    const [verifiedResult, writtenResult, unpackedResult] = await Promise.allSettled([verified, written, job.result]);
    // The integrity failure is the cause when there is one; the unpacker only saw its effects.
    for (const result of [verifiedResult, unpackedResult, writtenResult]) {
      if (result.status === 'rejected') throw result.reason;
    }
    const contents = (unpackedResult as PromiseFulfilledResult<LayerContents>).value;
    if (writer) await writer.commit(descriptor.digest);
    const snapshot = await prepared.publish({
      ...contents,
      digest: descriptor.digest,
      mediaType: descriptor.mediaType,
      overlayWhiteouts: context.overlayWhiteouts,
    });
    return { descriptor, snapshot, snapshotHit: false, blobHit: fromCache, receivedAt, readyAt: performance.now() };
  } catch (error) {
    input?.destroy();
    job.input.destroy(error instanceof Error ? error : new Error(String(error)));
    // The worker must have stopped writing before its directory is removed.
    await job.result.catch(() => undefined);
    await Promise.all([writer?.discard(), prepared.discard()]);
    throw error;
  }
}

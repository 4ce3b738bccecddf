/**
 * Pulls an image into the cache: resolve the reference to a manifest digest (through an index when
 * there is one), fetch the config, then ingest every layer concurrently (download, verify,
 * decompress and unpack streaming). Cached layers are neither downloaded nor unpacked again.
 */
import { performance } from 'node:perf_hooks';
import { McpWarmError } from '../errors.js';
import { blobKey, snapshotKey, type ImageCache } from './cache/image-cache.js';
import { DigestVerifier } from './digest.js';
import { ingestLayer, DEFAULT_UNPACK_LIMITS, type IngestedLayer, type UnpackLimits } from './layer-ingest.js';
import { parseManifestOrIndex } from './manifest.js';
import { DEFAULT_PLATFORM, selectManifest } from './platform.js';
import type { ImageSource } from './source.js';
import type { Descriptor, FetchedManifest, ImageConfig, ImageManifest, Platform } from './types.js';

export interface PullOptions {
  cache: ImageCache;
  platform?: Platform;
  limits?: UnpackLimits;
  allowSetid?: boolean;
  /** Keep compressed layer blobs besides their snapshots (see LayerIngestContext). */
  keepLayerBlobs?: boolean;
  /** Write overlayfs whiteout markers into new snapshots (when overlay mounts are available). */
  overlayWhiteouts: boolean;
}

export interface PulledLayer {
  digest: string;
  mediaType: string;
  size: number;
  unpackedBytes: number;
  entries: number;
  cacheHit: boolean;
  /** The compressed blob was already cached (only the unpack was needed). */
  blobHit: boolean;
}

export interface PullPhases {
  /** Reference to manifest digest, index included. */
  resolveMs: number;
  /** Config and layer bytes received (streamed into the unpacker as they arrived). */
  pullMs: number;
  /** Unpacking that was still running after the last byte arrived. */
  unpackMs: number;
  totalMs: number;
}

export interface PulledImage {
  reference: string;
  /** Digest of what the reference names (an index or a manifest). */
  digest: string;
  /** Digest of the platform's image manifest. */
  manifestDigest: string;
  platform?: Platform;
  manifest: ImageManifest;
  config: ImageConfig;
  configDigest: string;
  layers: PulledLayer[];
  /** Snapshot trees, bottom layer first, with their whiteouts: what a rootfs is composed from. */
  snapshots: IngestedLayer['snapshot'][];
  phases: PullPhases;
}

export async function pullImage(source: ImageSource, options: PullOptions): Promise<PulledImage> {
  const { cache } = options;
  const start = performance.now();
  const top = await source.getManifest();
  const { fetched, manifest, platform } = await resolveManifest(source, top, options.platform ?? DEFAULT_PLATFORM);
  await Promise.all([storeManifest(cache, top), fetched === top ? undefined : storeManifest(cache, fetched)]);
  const resolvedAt = performance.now();

  // Everything this pull uses stays protected from eviction until the pull is over.
  const release = cache.lease([
    blobKey(top.digest),
    blobKey(fetched.digest),
    blobKey(manifest.config.digest),
    ...manifest.layers.flatMap((layer) => [blobKey(layer.digest), snapshotKey(layer.digest)]),
  ]);
  try {
    const limits = options.limits ?? DEFAULT_UNPACK_LIMITS;
    const budget = { bytesLeft: limits.maxUnpackedBytes, entriesLeft: limits.maxEntries };
    const context = {
      cache,
      source,
      limits,
      allowSetid: options.allowSetid ?? false,
      overlayWhiteouts: options.overlayWhiteouts,
      keepLayerBlobs: options.keepLayerBlobs ?? false,
    };
    // Settle everything before answering, so no ingest is still writing when the caller moves on.
    const [config, layers] = await settleAll([
      fetchConfig(source, cache, manifest.config),
      settleAll(manifest.layers.map((descriptor) => ingestLayer(context, descriptor, budget))),
    ] as const);
    if (config.rootfs?.diff_ids?.length !== manifest.layers.length) {
      throw new McpWarmError('MANIFEST_INVALID', `config lists ${config.rootfs?.diff_ids?.length ?? 0} layers, the manifest ${manifest.layers.length}`);
    }
    await cache.enforceBudget();
    const end = performance.now();
    const receivedAt = Math.max(resolvedAt, ...layers.map((layer) => layer.receivedAt));
    return {
      reference: source.displayName,
      digest: top.digest,
      manifestDigest: fetched.digest,
      ...(platform ? { platform } : {}),
      manifest,
      config,
      configDigest: manifest.config.digest,
      layers: layers.map(describeLayer),
      snapshots: layers.map((layer) => layer.snapshot),
      phases: {
        resolveMs: resolvedAt - start,
        pullMs: receivedAt - resolvedAt,
        unpackMs: end - receivedAt,
        totalMs: end - start,
      },
    };
  } finally {
    release();
  }
}

/** Like Promise.all, but waits for every promise before rejecting with the first failure. */
async function settleAll<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(promises);
  const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure) throw failure.reason;
  return results.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

function describeLayer(layer: IngestedLayer): PulledLayer {
  return {
    digest: layer.descriptor.digest,
    mediaType: layer.descriptor.mediaType,
    size: layer.descriptor.size,
    unpackedBytes: layer.snapshot.bytes,
    entries: layer.snapshot.entries,
    cacheHit: layer.snapshotHit,
    blobHit: layer.blobHit,
  };
}

async function resolveManifest(
  source: ImageSource,
  top: FetchedManifest,
  want: Platform,
): Promise<{ fetched: FetchedManifest; manifest: ImageManifest; platform?: Platform }> {
  const parsed = parseManifestOrIndex(top);
  if (parsed.kind === 'manifest') return { fetched: top, manifest: parsed.manifest };
  const chosen = selectManifest(parsed.index, want);
  const fetched = await source.getManifest(chosen.digest);
  const inner = parseManifestOrIndex(fetched);
  if (inner.kind !== 'manifest') {
    throw new McpWarmError('MANIFEST_UNSUPPORTED', `index entry ${chosen.digest} for ${formatPlatform(want)} is itself an index`);
  }
  return { fetched, manifest: inner.manifest, ...(chosen.platform ? { platform: chosen.platform } : {}) };
}

function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
}

async function storeManifest(cache: ImageCache, fetched: FetchedManifest): Promise<void> {
  if (!(await cache.blobs.has(fetched.digest))) await cache.blobs.putBytes(fetched, fetched.bytes, 'manifest');
}

async function fetchConfig(source: ImageSource, cache: ImageCache, descriptor: Descriptor): Promise<ImageConfig> {
  const bytes = (await cache.blobs.readVerified(descriptor.digest)) ?? (await downloadSmallBlob(source, cache, descriptor));
  try {
    return JSON.parse(bytes.toString('utf8')) as ImageConfig;
  } catch (error) {
    throw new McpWarmError('MANIFEST_INVALID', `image config ${descriptor.digest} is not JSON`, { cause: error });
  }
}

const SMALL_BLOB_LIMIT = 16 * 2 ** 20;

async function downloadSmallBlob(source: ImageSource, cache: ImageCache, descriptor: Descriptor): Promise<Buffer> {
  if (descriptor.size > SMALL_BLOB_LIMIT) {
    throw new McpWarmError('MANIFEST_INVALID', `config ${descriptor.digest} claims ${descriptor.size} bytes (limit ${SMALL_BLOB_LIMIT})`);
  }
  const chunks: Buffer[] = [];
  const verifier = new DigestVerifier(descriptor, `config ${descriptor.digest}`);
  const input = await source.openBlob(descriptor);
  input.on('error', (error) => verifier.destroy(error));
  for await (const chunk of input.pipe(verifier)) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  await cache.blobs.putBytes(descriptor, bytes, 'config');
  return bytes;
}

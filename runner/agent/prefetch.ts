/**
 * `POST /images`: an image resolved, pulled and unpacked into the cache ahead of its activations,
 * with nothing started. It goes through the same pull as an activation (ImagePulls), so a
 * prefetch and an activation of one image at the same time share one pull, and a failed one
 * leaves nothing half-written in the cache.
 */
import type { PullPhases } from '../oci/puller.js';
import type { ImageAllowlist } from './access.js';
import { layerCacheCounts, type ImagePulls, type LayerCacheCounts } from './image-pulls.js';

/** What `POST /images` answers. */
export interface PrefetchAnswer {
  /** The reference as resolved (registry defaults filled in). */
  image: string;
  digest: string;
  /** Every layer was in the cache already: nothing was downloaded or unpacked. */
  cached: boolean;
  phases: PullPhases;
  cache: LayerCacheCounts;
}

export interface PrefetchContext {
  images: ImagePulls;
  allowlist: ImageAllowlist;
}

/** Pulls `image` into the cache, after the allowlist (checked before any network call) allowed it. */
export async function prefetchImage(context: PrefetchContext, image: string): Promise<PrefetchAnswer> {
  context.allowlist.check(image);
  const pulled = await context.images.pull(image);
  const cache = layerCacheCounts(pulled);
  return { image: pulled.reference, digest: pulled.digest, cached: cache.layersMissed === 0, phases: pulled.phases, cache };
}

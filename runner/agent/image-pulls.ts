/**
 * The agent's pulls into its cache, one per image at a time: a prefetch (`POST /images`) and the
 * activations of the same image that arrive while it runs share that one pull, instead of each
 * resolving the reference again and waiting on the layers on its own.
 */
import { performance } from 'node:perf_hooks';
import type { ImageCache } from '../oci/cache/image-cache.js';
import { openImageSource } from '../oci/open-source.js';
import { pullImage, type PulledImage, type PullPhases } from '../oci/puller.js';

export interface ImagePullsOptions {
  cache: ImageCache;
  /** Write overlayfs whiteout markers into new snapshots (when overlay mounts are available). */
  overlayWhiteouts: boolean;
  /** Registries pulled from over plain HTTP although not on loopback. */
  insecureRegistries: readonly string[];
}

export interface LayerCacheCounts {
  layersHit: number;
  layersMissed: number;
}

/** How many of the image's layers were in the cache before this pull, and how many it brought in. */
export function layerCacheCounts(image: PulledImage): LayerCacheCounts {
  const layersHit = image.layers.filter((layer) => layer.cacheHit).length;
  return { layersHit, layersMissed: image.layers.length - layersHit };
}

/**
 * The part of a pull's phases (consecutive: resolve, pull, unpack, from `startedAt`) that a
 * caller who joined it at `joinedAt` waited through: what came before it joined is not its time.
 */
export function phasesSince(phases: PullPhases, startedAt: number, joinedAt: number): PullPhases {
  const offset = Math.max(0, joinedAt - startedAt);
  let phaseStart = 0;
  const share = (ms: number): number => {
    const phaseEnd = phaseStart + ms;
    const waited = Math.max(0, phaseEnd - Math.max(phaseStart, offset));
    phaseStart = phaseEnd;
    return waited;
  };
  const resolveMs = share(phases.resolveMs);
  const pullMs = share(phases.pullMs);
  const unpackMs = share(phases.unpackMs);
  return { resolveMs, pullMs, unpackMs, totalMs: resolveMs + pullMs + unpackMs };
}

export class ImagePulls {
  private readonly running = new Map<string, { startedAt: number; pulled: Promise<PulledImage> }>();

  constructor(private readonly options: ImagePullsOptions) {}

  /**
   * Pulls `image` into the cache (cached layers cost nothing), or joins the pull of it under way.
   * A joining caller gets the same image, with the phases it waited through.
   */
  async pull(image: string): Promise<PulledImage> {
    const source = openImageSource(image, { insecureRegistries: this.options.insecureRegistries });
    const key = source.displayName;
    const joinedAt = performance.now();
    const running = this.running.get(key);
    if (running) {
      const pulled = await running.pulled;
      return { ...pulled, phases: phasesSince(pulled.phases, running.startedAt, joinedAt) };
    }
    const pulled = pullImage(source, { cache: this.options.cache, overlayWhiteouts: this.options.overlayWhiteouts });
    const entry = { startedAt: joinedAt, pulled };
    this.running.set(key, entry);
    try {
      return await pulled;
    } finally {
      if (this.running.get(key) === entry) this.running.delete(key);
    }
  }
}

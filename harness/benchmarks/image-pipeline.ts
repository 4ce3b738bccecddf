/**
 * `bench image`: the image pipeline against the reference pipeline (skopeo copy + tar -xf of each
 * layer), side by side in one run, variants interleaved in random order every round:
 * - cold: pull + unpack with an empty cache, to a composed rootfs;
 * - seed: the reference pipeline, to an extracted rootfs;
 * - cached: rootfs ready for an image already in the cache (reference resolved, snapshots composed).
 */
import { mkdir, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startLocalRegistry } from '../cluster/local-registry.js';
import { ImageCache } from '../../runner/oci/cache/image-cache.js';
import { materializeRootfs, releaseMaterializedRootfs } from '../../runner/oci/materialize.js';
import { openImageSource } from '../../runner/oci/open-source.js';
import { overlayAvailable } from '../../runner/oci/overlay.js';
import { pullImage, type PulledImage } from '../../runner/oci/puller.js';
import { buildAndPublish } from '../../runner/oci/build/publish.js';
import { seedPull } from './seed-pipeline.js';
import { shuffled, summarize, type Summary } from '../measure/stats.js';
import { machineFingerprint, type MachineFingerprint } from '../measure/fingerprint.js';
import type { TargetLine } from '../report/console.js';

export interface ImageBenchOptions {
  specPath: string;
  runs: number;
  workDir: string;
  progress: (line: string) => void;
}

export interface ImageBenchResult {
  benchmark: 'image';
  startedAt: string;
  machine: MachineFingerprint;
  image: { reference: string; digest: string; layers: number; compressedBytes: number; unpackedBytes: number; entries: number };
  composeMode: string;
  /** Filesystem of the work directory (caches, rootfs, the reference pipeline's files). */
  storage: { dir: string; filesystem: 'tmpfs' | 'other' };
  variants: {
    cold: { totalMs: Summary; resolveMs: Summary; pullMs: Summary; unpackMs: Summary; composeMs: Summary };
    seed: { totalMs: Summary; copyMs: Summary; extractMs: Summary };
    cached: { rootfsReadyMs: Summary; composeMs: Summary };
  };
  /** Seed median over cold median, measured in the same run. */
  speedupOverSeed: number;
  /** Every measurement in ms, in round order (the summaries above are computed from these). */
  samples: { [V in keyof ImageBenchResult['variants']]: { [P in keyof ImageBenchResult['variants'][V]]: number[] } };
  /** The scenario's thresholds judged on the run's figures: none from the run itself, the scenario engine adds them. */
  targets: TargetLine[];
}

type Variant = 'cold' | 'seed' | 'cached';

export async function runImageBenchmark(options: ImageBenchOptions): Promise<ImageBenchResult> {
  const { progress, workDir } = options;
  const startedAt = new Date().toISOString();
  await mkdir(workDir, { recursive: true });
  const registry = await startLocalRegistry({ dir: join(workDir, 'registry'), port: 0 });
  try {
    progress(`registry at ${registry.address}; building ${options.specPath}`);
    const built = await buildAndPublish(options.specPath, { tag: `${registry.address}/bench/image:latest`, push: true });
    progress(`image ${built.reference} ${built.digest} (${built.layers} layers, ${(built.compressedBytes / 2 ** 20).toFixed(1)} MiB compressed)`);
    const overlayWhiteouts = await overlayAvailable();

    const warmCache = await ImageCache.open({ dir: join(workDir, 'warm-cache'), budget: '64Gi' });
    const warmPull = await pullImage(openImageSource(built.reference), { cache: warmCache, overlayWhiteouts });

    const samples = {
      cold: { totalMs: [] as number[], resolveMs: [] as number[], pullMs: [] as number[], unpackMs: [] as number[], composeMs: [] as number[] },
      seed: { totalMs: [] as number[], copyMs: [] as number[], extractMs: [] as number[] },
      cached: { rootfsReadyMs: [] as number[], composeMs: [] as number[] },
    };
    let composeMode = '';
    const runVariant: Record<Variant, (round: number) => Promise<void>> = {
      cold: async (round) => {
        const dir = join(workDir, `cold-${round}`);
        const cache = await ImageCache.open({ dir: join(dir, 'cache'), budget: '64Gi' });
        const start = performance.now();
        const image = await pullImage(openImageSource(built.reference), { cache, overlayWhiteouts });
        const rootfs = await materializeRootfs(cache, image, join(dir, 'rootfs'), 'auto');
        samples.cold.totalMs.push(performance.now() - start);
        samples.cold.resolveMs.push(image.phases.resolveMs);
        samples.cold.pullMs.push(image.phases.pullMs);
        samples.cold.unpackMs.push(image.phases.unpackMs);
        samples.cold.composeMs.push(rootfs.composeMs);
        composeMode = rootfs.mode;
        await releaseMaterializedRootfs(cache, rootfs.target);
        await rm(dir, { recursive: true, force: true });
      },
      seed: async (round) => {
        const dir = join(workDir, `seed-${round}`);
        const result = await seedPull(built.reference, dir);
        samples.seed.totalMs.push(result.totalMs);
        samples.seed.copyMs.push(result.copyMs);
        samples.seed.extractMs.push(result.extractMs);
        await rm(dir, { recursive: true, force: true });
      },
      cached: async (round) => {
        const target = join(workDir, `cached-rootfs-${round}`);
        const start = performance.now();
        const image = await pullImage(openImageSource(built.reference), { cache: warmCache, overlayWhiteouts });
        const rootfs = await materializeRootfs(warmCache, image, target, 'auto');
        samples.cached.rootfsReadyMs.push(performance.now() - start);
        samples.cached.composeMs.push(rootfs.composeMs);
        await releaseMaterializedRootfs(warmCache, target);
        await rm(target, { recursive: true, force: true });
      },
    };

    for (let round = 1; round <= options.runs; round += 1) {
      const order = shuffled<Variant>(['cold', 'seed', 'cached']);
      for (const variant of order) await runVariant[variant](round);
      progress(
        `round ${round}/${options.runs}: cold ${last(samples.cold.totalMs)} ms, seed ${last(samples.seed.totalMs)} ms, cached ${last(samples.cached.rootfsReadyMs)} ms`,
      );
    }

    const summarizeAll = <K extends string>(group: Record<K, number[]>): Record<K, Summary> =>
      Object.fromEntries(Object.entries(group).map(([key, values]) => [key, summarize(values as number[])])) as Record<K, Summary>;
    const variants = {
      cold: summarizeAll(samples.cold),
      seed: summarizeAll(samples.seed),
      cached: summarizeAll(samples.cached),
    };
    const speedupOverSeed = variants.seed.totalMs.p50 / variants.cold.totalMs.p50;
    return {
      benchmark: 'image',
      startedAt,
      machine: await machineFingerprint(),
      image: describeImage(built.reference, warmPull),
      composeMode,
      storage: { dir: workDir, filesystem: (await statfs(workDir)).type === 0x01021994 ? 'tmpfs' : 'other' },
      variants,
      speedupOverSeed,
      samples,
      targets: [],
    };
  } finally {
    await registry.stop();
  }
}

function last(values: number[]): string {
  return (values[values.length - 1] ?? Number.NaN).toFixed(0);
}

function describeImage(reference: string, image: PulledImage): ImageBenchResult['image'] {
  return {
    reference,
    digest: image.digest,
    layers: image.layers.length,
    compressedBytes: image.layers.reduce((sum, layer) => sum + layer.size, 0),
    unpackedBytes: image.layers.reduce((sum, layer) => sum + layer.unpackedBytes, 0),
    entries: image.layers.reduce((sum, layer) => sum + layer.entries, 0),
  };
}

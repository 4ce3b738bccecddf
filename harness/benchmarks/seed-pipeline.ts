/**
 * The reference pipeline of the warm-pool write-up this project measures itself against:
 * `skopeo copy docker://IMAGE dir:DIR`, then `tar -xf` of every layer, in order, into one rootfs.
 * Used only as a baseline in benchmarks; it has none of the safety or caching of the real pipeline.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { requireExecutable, run } from '../../runner/exec.js';

export interface SeedPullResult {
  rootfs: string;
  copyMs: number;
  extractMs: number;
  totalMs: number;
}

/** Copies `reference` (host:port/repo:tag on a plain-HTTP registry) with skopeo and untars its layers into workDir/rootfs. */
export async function seedPull(reference: string, workDir: string): Promise<SeedPullResult> {
  const skopeo = requireExecutable('skopeo', 'skopeo');
  const tar = requireExecutable('tar', 'tar');
  const imageDir = join(workDir, 'image');
  const rootfs = join(workDir, 'rootfs');
  await mkdir(rootfs, { recursive: true });
  const start = performance.now();
  await run(skopeo, ['copy', '--quiet', '--insecure-policy', '--src-tls-verify=false', `docker://${reference}`, `dir:${imageDir}`]);
  const copied = performance.now();
  const manifest = JSON.parse(await readFile(join(imageDir, 'manifest.json'), 'utf8')) as { layers: Array<{ digest: string }> };
  for (const layer of manifest.layers) {
    await run(tar, ['-xf', join(imageDir, layer.digest.replace(/^sha256:/, '')), '-C', rootfs]);
  }
  const end = performance.now();
  return { rootfs, copyMs: copied - start, extractMs: end - copied, totalMs: end - start };
}

/**
 * The seed's activation, timed to initialize answered: the warm-pool write-up's pipeline (skopeo
 * copy, tar -xf of every layer, chroot exec of the entrypoint).
 */
import { randomBytes } from 'node:crypto';
import { chmod, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { requireExecutable } from '../../../../runner/exec.js';
import { seedPull } from '../../../benchmarks/seed-pipeline.js';
import { timeToInitialize } from '../../../load/stdio-initialize.js';

/** The seed's activation of `ref` in a fresh directory under workDir, removed after. */
export async function seedActivation(ref: string, workDir: string): Promise<number> {
  const chroot = requireExecutable('chroot', 'coreutils');
  const dir = join(workDir, `seed-${randomBytes(4).toString('hex')}`);
  try {
    const start = performance.now();
    const pulled = await seedPull(ref, dir);
    const config = await imageConfigOf(join(dir, 'image'));
    await chmod(pulled.rootfs, 0o755);
    await timeToInitialize([chroot, `--userspec=${config.User || '0:0'}`, pulled.rootfs, ...(config.Entrypoint ?? []), ...(config.Cmd ?? [])]);
    return performance.now() - start;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Entrypoint, Cmd and User from an image copied by skopeo into a `dir:` directory. */
async function imageConfigOf(imageDir: string): Promise<{ Entrypoint?: string[]; Cmd?: string[]; User?: string }> {
  const manifest = JSON.parse(await readFile(join(imageDir, 'manifest.json'), 'utf8')) as { config: { digest: string } };
  const config = JSON.parse(await readFile(join(imageDir, manifest.config.digest.replace('sha256:', '')), 'utf8')) as {
    config?: { Entrypoint?: string[]; Cmd?: string[]; User?: string };
  };
  return config.config ?? {};
}

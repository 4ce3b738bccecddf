/**
 * Shipped specs through the whole pipeline: built, pushed to a real registry, pulled and composed
 * by mcpwarm, and checked as a user of the rootfs would see it: the layered image's merged tree,
 * and the fixture server starting in a chroot of the composed rootfs and answering initialize.
 */
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalRegistry, type LocalRegistry } from '../harness/cluster/local-registry.js';
import { buildAndPublish } from '../runner/oci/build/publish.js';
import { ImageCache } from '../runner/oci/cache/image-cache.js';
import { materializeRootfs, releaseMaterializedRootfs } from '../runner/oci/materialize.js';
import { openImageSource } from '../runner/oci/open-source.js';
import { overlayAvailable } from '../runner/oci/overlay.js';
import { pullImage } from '../runner/oci/puller.js';
import { mountsUnder } from '../runner/mounts.js';
import { initializeInChroot } from './support/chroot-initialize.js';

let work: string;
let registry: LocalRegistry;
let overlay: boolean;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mcpwarm-roundtrip-'));
  // The image's user (1000) must be able to enter the rootfs below this directory.
  await chmod(work, 0o755);
  registry = await startLocalRegistry({ dir: join(work, 'registry'), port: 0 });
  overlay = await overlayAvailable();
  if (!overlay && process.env.CI === 'true') throw new Error('overlay mounts are not available under CI');
});

afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function pullAndCompose(spec: string, mode: 'auto' | 'hardlink' | 'copy', name: string) {
  const published = await buildAndPublish(join('scenarios/images', spec), { tag: `${registry.address}/roundtrip/${name}:1`, push: true });
  const cache = await ImageCache.open({ dir: join(work, `cache-${name}-${mode}`) });
  const image = await pullImage(openImageSource(published.reference), { cache, overlayWhiteouts: overlay });
  expect(image.digest).toBe(published.digest);
  const target = join(work, `rootfs-${name}-${mode}`);
  const rootfs = await materializeRootfs(cache, image, target, mode);
  return { cache, image, target, rootfs };
}

describe('layered-whiteouts image', () => {
  it.each(['auto', 'copy'] as const)('composes to the merged tree its spec describes (%s)', async (mode) => {
    const { cache, target } = await pullAndCompose('layered-whiteouts.image.yaml', mode, 'layered');
    const text = (path: string) => readFile(join(target, path), 'utf8');
    expect(await text('app/keep.txt')).toBe('kept\n');
    expect(await text('app/replace.txt')).toBe('v2\n');
    expect(await readlink(join(target, 'app/current'))).toBe('replace.txt');
    expect(await readdir(join(target, 'app/cache'))).toEqual(['fresh.txt']);
    expect(existsSync(join(target, 'app/old.txt'))).toBe(false);
    expect(existsSync(join(target, 'app/olddir'))).toBe(false);
    expect((await lstat(join(target, 'tmp'))).mode & 0o7777).toBe(0o1777);
    expect(await text('tmp/scratch.txt')).toBe('in tmp\n');
    await releaseMaterializedRootfs(cache, target);
    expect(mountsUnder(work).filter((point) => point.startsWith(target))).toEqual([]);
  });
});

describe('fixture image', () => {
  it('starts from the composed rootfs in a chroot and answers initialize', async () => {
    const { cache, image, target, rootfs } = await pullAndCompose('fixture.image.yaml', 'auto', 'fixture');
    expect(rootfs.mode).toBe(overlay ? 'overlay' : 'hardlink');
    const answer = await initializeInChroot(target, image.config, 15_000);
    expect(answer.result.serverInfo.name).toBeTruthy();
    expect(answer.result.protocolVersion).toBe('2025-06-18');
    await releaseMaterializedRootfs(cache, target);
    expect(await mountsUnder(target)).toEqual([]);
  });
});

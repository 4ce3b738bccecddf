/**
 * The pull pipeline end to end against a real registry: streaming ingest into blobs and snapshots,
 * cache hits, one download per blob under concurrency, nothing cached from a bad download or a
 * refused layer, LRU eviction within a budget, and rootfs composition from the cache.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalRegistry, type LocalRegistry } from '../harness/cluster/local-registry.js';
import { blobKey, ImageCache, snapshotKey } from '../runner/oci/cache/image-cache.js';
import { digestHex } from '../runner/oci/digest.js';
import { materializeRootfs, releaseMaterializedRootfs } from '../runner/oci/materialize.js';
import { openImageSource } from '../runner/oci/open-source.js';
import { overlayAvailable } from '../runner/oci/overlay.js';
import { pullImage } from '../runner/oci/puller.js';
import { parseReference } from '../runner/oci/reference.js';
import { RegistryClient } from '../runner/oci/registry-client.js';
import { mountsUnder } from '../runner/mounts.js';
import { startFaultInjectingProxy, type FaultInjectingProxy } from './support/fault-injecting-proxy.js';
import { dir, file, layeredTestImage } from './support/layered-image.js';
import { pushTestImage, type TestImage } from './support/test-images.js';

let work: string;
let registry: LocalRegistry;
let proxy: FaultInjectingProxy;
let overlay: boolean;

const base = layeredTestImage([
  [dir('etc/'), file('etc/os-release', 'ID=test\n'), file('etc/old', 'old\n'), { path: 'bin', type: 'symlink', linkname: 'usr/bin' }, dir('usr/'), dir('usr/bin/')],
  [file('.wh.old', '', 0o644), file('etc/.wh.old', ''), file('etc/new', 'new\n'), file('usr/bin/tool', '#!/bin/sh\n', 0o755)],
]);

async function push(image: TestImage, repository: string, tag = 'v1'): Promise<string> {
  const client = new RegistryClient(parseReference(`${registry.address}/${repository}:${tag}`));
  await pushTestImage(client, image, tag);
  return `${registry.address}/${repository}:${tag}`;
}

async function freshCache(budget: number | string = '1Gi'): Promise<ImageCache> {
  return ImageCache.open({ dir: await mkdtemp(join(work, 'cache-')), budget });
}

async function expectNothingLeft(cache: ImageCache): Promise<void> {
  expect(await readdir(join(cache.dir, 'tmp'))).toEqual([]);
  expect(await mountsUnder(cache.dir)).toEqual([]);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mcpwarm-pull-'));
  registry = await startLocalRegistry({ dir: join(work, 'registry'), port: 0 });
  proxy = await startFaultInjectingProxy(registry.url);
  overlay = await overlayAvailable();
});

afterAll(async () => {
  await proxy?.stop();
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('pullImage', () => {
  it('ingests every layer into a snapshot and the blob store, then hits the cache', async () => {
    const ref = await push(base, 'pull/base');
    const cache = await freshCache();
    const first = await pullImage(openImageSource(ref), { cache, overlayWhiteouts: overlay, keepLayerBlobs: true });
    expect(first.digest).toBe(base.manifest.descriptor.digest);
    expect(first.layers.map((l) => l.cacheHit)).toEqual([false, false]);
    expect(first.snapshots[1]!.whiteouts).toContain('etc/old');
    for (const blob of [base.manifest, base.config, ...base.layers]) {
      expect(existsSync(join(cache.dir, 'blobs/sha256', digestHex(blob.descriptor.digest)))).toBe(true);
    }
    expect(await readFile(join(first.snapshots[0]!.dir, 'etc/os-release'), 'utf8')).toBe('ID=test\n');
    // Whiteout files are never left as files in a snapshot.
    expect(existsSync(join(first.snapshots[1]!.dir, 'etc/.wh.old'))).toBe(false);

    const second = await pullImage(openImageSource(ref), { cache, overlayWhiteouts: overlay });
    expect(second.layers.map((l) => l.cacheHit)).toEqual([true, true]);
    expect(second.snapshots.map((s) => s.dir)).toEqual(first.snapshots.map((s) => s.dir));
    await expectNothingLeft(cache);
  });

  it('keeps only manifests and configs as blobs unless asked to keep layer blobs', async () => {
    const ref = await push(base, 'pull/discard');
    const cache = await freshCache();
    const image = await pullImage(openImageSource(ref), { cache, overlayWhiteouts: overlay });
    expect(await cache.blobs.has(base.manifest.descriptor.digest)).toBe(true);
    expect(await cache.blobs.has(base.config.descriptor.digest)).toBe(true);
    for (const layer of base.layers) expect(await cache.blobs.has(layer.descriptor.digest)).toBe(false);
    expect(image.snapshots).toHaveLength(2);
  });

  it('unpacks a kept layer blob again without downloading when its snapshot was evicted', async () => {
    const ref = await push(base, 'pull/reunpack');
    const cache = await freshCache();
    await pullImage(openImageSource(ref), { cache, overlayWhiteouts: overlay, keepLayerBlobs: true });
    await cache.snapshots.remove(base.layers[0]!.descriptor.digest);
    proxy.reset();
    const again = await pullImage(openImageSource(`${proxy.address}/pull/reunpack:v1`), { cache, overlayWhiteouts: overlay });
    expect(again.layers.map((l) => [l.cacheHit, l.blobHit])).toEqual([
      [false, true],
      [true, true],
    ]);
    expect(proxy.requests.filter((r) => r.path.includes('/blobs/'))).toEqual([]);
    await expectNothingLeft(cache);
  });

  it('downloads a blob once when several pulls want it at the same time', async () => {
    const image = layeredTestImage([[file('a', 'x'.repeat(200_000))], [file('b', 'y'.repeat(100_000))]]);
    await push(image, 'pull/concurrent');
    const cache = await freshCache();
    proxy.reset();
    const pulls = await Promise.all(
      Array.from({ length: 4 }, () => pullImage(openImageSource(`${proxy.address}/pull/concurrent:v1`), { cache, overlayWhiteouts: overlay })),
    );
    expect(new Set(pulls.map((p) => p.digest)).size).toBe(1);
    for (const layer of image.layers) {
      const gets = proxy.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${layer.descriptor.digest}`));
      expect(gets).toHaveLength(1);
    }
    await expectNothingLeft(cache);
  });

  it('caches nothing from a blob whose bytes do not match its digest', async () => {
    const image = layeredTestImage([[file('data', 'good content')]]);
    await push(image, 'pull/corrupt');
    const layer = image.layers[0]!.descriptor;
    const hex = digestHex(layer.digest);
    // Corrupt the blob in the registry's own storage, keeping its size.
    const stored = join(registry.dir, 'data/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const bytes = await readFile(stored);
    bytes[bytes.length - 5] ^= 0xff;
    await writeFile(stored, bytes);
    const cache = await freshCache();
    await expect(pullImage(openImageSource(`${registry.address}/pull/corrupt:v1`), { cache, overlayWhiteouts: overlay })).rejects.toMatchObject({
      code: 'BLOB_DIGEST_MISMATCH',
    });
    expect(existsSync(cache.blobs.path(layer.digest))).toBe(false);
    expect(await cache.snapshots.get(layer.digest)).toBeUndefined();
    await expectNothingLeft(cache);
  });

  it('streams a layer larger than the unpack flow-control window intact, and drops it when corrupt', async () => {
    const payload = randomBytes(12 * 2 ** 20);
    const image = layeredTestImage([[{ path: 'random.bin', type: 'file', data: payload }]]);
    await push(image, 'pull/large');
    const cache = await freshCache();
    const pulled = await pullImage(openImageSource(`${registry.address}/pull/large:v1`), { cache, overlayWhiteouts: overlay });
    expect((await readFile(join(pulled.snapshots[0]!.dir, 'random.bin'))).equals(payload)).toBe(true);

    const hex = digestHex(image.layers[0]!.descriptor.digest);
    const stored = join(registry.dir, 'data/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const bytes = await readFile(stored);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await writeFile(stored, bytes);
    const other = await freshCache();
    await expect(pullImage(openImageSource(`${registry.address}/pull/large:v1`), { cache: other, overlayWhiteouts: overlay })).rejects.toMatchObject({
      code: expect.stringMatching(/^(BLOB_DIGEST_MISMATCH|UNPACK_CORRUPT)$/),
    });
    expect(await other.snapshots.get(image.layers[0]!.descriptor.digest)).toBeUndefined();
    await expectNothingLeft(other);
  });

  it('caches nothing from a truncated transfer', async () => {
    const image = layeredTestImage([[file('big', 'z'.repeat(300_000))]]);
    await push(image, 'pull/truncated');
    const layer = image.layers[0]!.descriptor;
    proxy.reset();
    proxy.addRule({ method: 'GET', path: new RegExp(`/blobs/${layer.digest}$`), fault: { kind: 'cut-body', afterBytes: 100, stripAcceptRanges: true } });
    const cache = await freshCache();
    const source = openImageSource(`${proxy.address}/pull/truncated:v1`, { retry: { attempts: 2, baseDelayMs: 5 } });
    await expect(pullImage(source, { cache, overlayWhiteouts: overlay })).rejects.toMatchObject({ code: 'BLOB_SIZE_MISMATCH' });
    expect(existsSync(cache.blobs.path(layer.digest))).toBe(false);
    expect(await cache.snapshots.get(layer.digest)).toBeUndefined();
    await expectNothingLeft(cache);
    proxy.reset();
  });

  it('refuses a layer that escapes the rootfs and caches nothing of it', async () => {
    const image = layeredTestImage([[file('ok', 'fine')], [file('../escaped', 'pwned')]]);
    await push(image, 'pull/escape');
    const cache = await freshCache();
    await expect(pullImage(openImageSource(`${registry.address}/pull/escape:v1`), { cache, overlayWhiteouts: overlay })).rejects.toMatchObject({
      code: 'UNPACK_PATH_ESCAPE',
    });
    expect(await cache.snapshots.get(image.layers[1]!.descriptor.digest)).toBeUndefined();
    expect(existsSync(cache.blobs.path(image.layers[1]!.descriptor.digest))).toBe(false);
    expect(existsSync(join(cache.dir, 'escaped'))).toBe(false);
    await expectNothingLeft(cache);
  });

  it('charges the unpacked size of the whole image against its limits', async () => {
    const image = layeredTestImage([[file('a', 'a'.repeat(6000))], [file('b', 'b'.repeat(6000))]]);
    await push(image, 'pull/limits');
    const cache = await freshCache();
    await expect(
      pullImage(openImageSource(`${registry.address}/pull/limits:v1`), {
        cache,
        overlayWhiteouts: overlay,
        limits: { maxUnpackedBytes: 10_000, maxEntries: 100 },
      }),
    ).rejects.toMatchObject({ code: 'UNPACK_LIMIT_EXCEEDED' });
    await expectNothingLeft(cache);
  });
});

describe('cache budget', () => {
  it('evicts the least recently used entries, never those under a composed rootfs', async () => {
    const first = layeredTestImage([[file('one', '1'.repeat(50_000))]]);
    const second = layeredTestImage([[file('two', '2'.repeat(50_000))]]);
    const third = layeredTestImage([[file('three', '3'.repeat(50_000))]]);
    const [a, b, c] = await Promise.all([push(first, 'budget/a'), push(second, 'budget/b'), push(third, 'budget/c')]);
    // Room for about two images: snapshots of 50 KB plus small compressed blobs.
    const cache = await freshCache(130_000);
    const imageA = await pullImage(openImageSource(a), { cache, overlayWhiteouts: overlay });
    const target = join(work, 'budget-rootfs');
    await materializeRootfs(cache, imageA, target, 'auto');
    await pullImage(openImageSource(b), { cache, overlayWhiteouts: overlay });
    await pullImage(openImageSource(c), { cache, overlayWhiteouts: overlay });

    const keys = new Set((await cache.entries()).map((e) => e.key));
    const total = (await cache.entries()).reduce((sum, e) => sum + e.bytes, 0);
    expect(total).toBeLessThanOrEqual(130_000);
    // A is under a rootfs: its snapshot stays. B is the least recently used: its snapshot goes. C was just pulled.
    expect(keys.has(snapshotKey(first.layers[0]!.descriptor.digest))).toBe(true);
    expect(keys.has(snapshotKey(second.layers[0]!.descriptor.digest))).toBe(false);
    expect(keys.has(snapshotKey(third.layers[0]!.descriptor.digest))).toBe(true);
    expect(keys.has(blobKey(third.manifest.descriptor.digest))).toBe(true);
    expect(await readFile(join(target, 'one'), 'utf8')).toHaveLength(50_000);

    await releaseMaterializedRootfs(cache, target);
    await expectNothingLeft(cache);
  });

  it('fails with CACHE_BUDGET_EXCEEDED when one image alone does not fit', async () => {
    const image = layeredTestImage([[file('huge', 'h'.repeat(80_000))]]);
    const ref = await push(image, 'budget/huge');
    const cache = await freshCache(20_000);
    await expect(pullImage(openImageSource(ref), { cache, overlayWhiteouts: overlay })).rejects.toMatchObject({ code: 'CACHE_BUDGET_EXCEEDED' });
    await expectNothingLeft(cache);
  });
});

describe('materializeRootfs', () => {
  it.each(['overlay', 'hardlink', 'copy'] as const)('composes the layers with whiteouts applied (%s)', async (mode) => {
    if (mode === 'overlay' && !overlay) {
      if (process.env.CI === 'true') throw new Error('overlay mounts are not available under CI');
      return;
    }
    const ref = await push(base, 'compose/base');
    const cache = await freshCache();
    const image = await pullImage(openImageSource(ref), { cache, overlayWhiteouts: overlay });
    const target = join(work, `rootfs-${mode}`);
    const rootfs = await materializeRootfs(cache, image, target, mode);
    expect(rootfs.mode).toBe(mode);
    expect(await readFile(join(target, 'etc/new'), 'utf8')).toBe('new\n');
    expect(existsSync(join(target, 'etc/old'))).toBe(false);
    expect((await lstat(join(target, 'bin'))).isSymbolicLink()).toBe(true);
    expect((await readdir(join(target, 'etc'))).filter((name) => name.startsWith('.wh.'))).toEqual([]);
    if (mode === 'overlay') expect(await mountsUnder(target)).toEqual([target]);

    await releaseMaterializedRootfs(cache, target);
    expect(await mountsUnder(target)).toEqual([]);
    expect(await cache.rootfs.list()).toEqual([]);
    await expectNothingLeft(cache);
  });
});

/**
 * The registry client against a real CNCF distribution registry, directly and through a
 * fault-injecting proxy (503s, 429s, reset connections, bodies cut mid-transfer).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startLocalRegistry, type LocalRegistry } from '../harness/cluster/local-registry.js';
import { findExecutable } from '../runner/exec.js';
import { DigestVerifier, sha256Digest } from '../runner/oci/digest.js';
import { parseManifestOrIndex } from '../runner/oci/manifest.js';
import { openImageSource } from '../runner/oci/open-source.js';
import { parsePlatform, selectManifest } from '../runner/oci/platform.js';
import { parseReference } from '../runner/oci/reference.js';
import { backoffDelay, RegistryClient, retryAfterDelay, type RegistryClientOptions } from '../runner/oci/registry-client.js';
import { MEDIA_TYPES, type Descriptor } from '../runner/oci/types.js';
import { startFaultInjectingProxy, type FaultInjectingProxy } from './support/fault-injecting-proxy.js';
import { pushTestImage, readAll, testBlob, testImage, testIndex } from './support/test-images.js';
import { caught } from './support/caught.js';

const FAST_RETRY: RegistryClientOptions = { retry: { attempts: 3, baseDelayMs: 5 } };
const registryInstalled = findExecutable('docker-registry') !== undefined;
const required = process.env.CI === 'true';

async function verifiedBytes(client: RegistryClient, descriptor: Descriptor): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const verifier = new DigestVerifier(descriptor, `blob ${descriptor.digest}`);
  verifier.on('data', (chunk: Buffer) => chunks.push(chunk));
  await pipeline(await client.openBlob(descriptor), verifier);
  return Buffer.concat(chunks);
}

describe('backoff', () => {
  it('doubles the delay per attempt with jitter between half and all of it, capped', () => {
    expect(backoffDelay(1, 100, () => 0)).toBe(50);
    expect(backoffDelay(1, 100, () => 1)).toBe(100);
    expect(backoffDelay(3, 100, () => 1)).toBe(400);
    expect(backoffDelay(30, 100, () => 1)).toBe(10_000);
  });

  it('reads Retry-After as seconds or an HTTP date, bounded', () => {
    expect(retryAfterDelay(null)).toBeUndefined();
    expect(retryAfterDelay('2')).toBe(2000);
    expect(retryAfterDelay('86400')).toBe(30_000);
    expect(retryAfterDelay(new Date(10_000).toUTCString(), 5_000)).toBe(5_000);
    expect(retryAfterDelay('soon')).toBeUndefined();
  });
});

describe('plain HTTP policy', () => {
  it('uses HTTP for loopback, HTTPS elsewhere, and refuses HTTP to a remote host not marked insecure', () => {
    expect(() => new RegistryClient(parseReference('registry.example.com/app'), { scheme: 'http' })).toThrow(
      expect.objectContaining({ code: 'REGISTRY_INSECURE_REFUSED' }),
    );
    expect(() => new RegistryClient(parseReference('registry.example.com/app'), { scheme: 'http', insecure: true })).not.toThrow();
    expect(new RegistryClient(parseReference('127.0.0.1:5000/app:v1')).location).toBe('127.0.0.1:5000/app');
    expect(new RegistryClient(parseReference('app')).displayName).toBe('docker.io/library/app:latest');
  });
});

describe.skipIf(!registryInstalled && !required)('registry client against a real registry', () => {
  let dir: string;
  let registry: LocalRegistry;
  let proxy: FaultInjectingProxy;

  const direct = (reference: string, options: RegistryClientOptions = FAST_RETRY) =>
    new RegistryClient(parseReference(`${registry.address}/${reference}`), options);
  const proxied = (reference: string, options: RegistryClientOptions = FAST_RETRY) =>
    new RegistryClient(parseReference(`${proxy.address}/${reference}`), options);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcpwarm-registry-client-'));
    registry = await startLocalRegistry({ dir: join(dir, 'registry'), port: 0 });
    proxy = await startFaultInjectingProxy(registry.url);
  });

  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => proxy.reset());

  describe('push and pull', () => {
    it('pushes an OCI image and resolves its tag to the digest of the exact bytes', async () => {
      const image = testImage();
      const client = direct('push/oci:v1');
      const digest = await pushTestImage(client, image, 'v1');
      expect(digest).toBe(image.manifest.descriptor.digest);

      const byTag = await client.getManifest();
      expect(byTag).toEqual({ digest, mediaType: MEDIA_TYPES.ociManifest, bytes: image.manifest.data });
      const byDigest = await direct(`push/oci@${digest}`).getManifest();
      expect(byDigest.digest).toBe(digest);
      expect(byDigest.bytes.equals(image.manifest.data)).toBe(true);

      const parsed = parseManifestOrIndex(byTag);
      expect(parsed.kind === 'manifest' && parsed.manifest.layers[0]).toEqual(image.layers[0]?.descriptor);
      expect(await verifiedBytes(client, image.layers[0]!.descriptor)).toEqual(image.layers[0]!.data);
    });

    it('skips uploading a blob the registry already has (one HEAD, no POST)', async () => {
      const image = testImage({ payload: Buffer.from('skip') });
      await pushTestImage(direct('push/skip'), image, 'v1');
      const client = proxied('push/skip');
      expect(await client.hasBlob(image.config.descriptor.digest)).toBe(true);
      expect(await client.hasBlob(sha256Digest('not there'))).toBe(false);
      proxy.reset();
      await client.pushBlob(image.config.descriptor, image.config.data);
      expect(proxy.requests.map((r) => r.method)).toEqual(['HEAD']);
    });

    it('checks pushed data against its descriptor before sending anything', async () => {
      const client = proxied('push/check');
      const blob = testBlob('application/octet-stream', Buffer.from('right'));
      expect((await caught(client.pushBlob(blob.descriptor, Buffer.from('wrong')))).code).toBe('BLOB_DIGEST_MISMATCH');
      expect((await caught(client.putManifest(sha256Digest('other'), Buffer.from('{}'), MEDIA_TYPES.ociManifest))).code).toBe('BLOB_DIGEST_MISMATCH');
      expect(proxy.requests).toEqual([]);
    });

    it.each(['oci', 'docker'] as const)('selects platforms from a two-platform %s index', async (format) => {
      const amd64 = parsePlatform('linux/amd64');
      const arm64 = parsePlatform('linux/arm64/v8');
      const images = [amd64, arm64].map((platform) => ({ platform, image: testImage({ format, platform }) }));
      const client = direct(`multi/${format}:v1`);
      for (const { image } of images) await pushTestImage(client, image);
      // BuildKit-style attestation entry: skipped by platform selection.
      const attestation = { ...images[0]!.image.manifest.descriptor, platform: { os: 'unknown', architecture: 'unknown' } };
      const index = testIndex(format, images, format === 'oci' ? [attestation] : []);
      await client.putManifest('v1', index.data, index.descriptor.mediaType);

      const top = await client.getManifest();
      expect(top.mediaType).toBe(format === 'oci' ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.dockerManifestList);
      const parsed = parseManifestOrIndex(top);
      if (parsed.kind !== 'index') throw new Error('expected an index');
      const chosen = selectManifest(parsed.index, parsePlatform('linux/arm64'));
      expect(chosen.digest).toBe(images[1]!.image.manifest.descriptor.digest);
      const manifest = await client.getManifest(chosen.digest);
      expect(manifest.mediaType).toBe(format === 'oci' ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest);
      const inner = parseManifestOrIndex(manifest);
      if (inner.kind !== 'manifest') throw new Error('expected a manifest');
      const config = await readAll(await client.openBlob(inner.manifest.config));
      expect(JSON.parse(config.toString())).toMatchObject({ os: 'linux', architecture: 'arm64', variant: 'v8' });
      expect(() => selectManifest(parsed.index, parsePlatform('linux/s390x'))).toThrow(/it has: linux\/amd64, linux\/arm64\/v8$/);
    });

    it('opens registry references through openImageSource', async () => {
      const image = testImage({ payload: Buffer.from('open') });
      await pushTestImage(direct('open/source'), image, 'v1');
      const source = openImageSource(`${registry.address}/open/source:v1`, FAST_RETRY);
      expect(source).toBeInstanceOf(RegistryClient);
      expect((await source.getManifest()).digest).toBe(image.manifest.descriptor.digest);
    });
  });

  describe('bad answers', () => {
    it('reports unknown tags and blobs as IMAGE_NOT_FOUND', async () => {
      const missing = await caught(direct('nothing/here:v1').getManifest());
      expect(missing.code).toBe('IMAGE_NOT_FOUND');
      expect(missing.message).toMatch(/MANIFEST_UNKNOWN|NAME_UNKNOWN/);
      const blob = testBlob('application/octet-stream', Buffer.from('absent'));
      expect((await caught(direct('nothing/here').openBlob(blob.descriptor))).code).toBe('IMAGE_NOT_FOUND');
    });

    it('refuses schema 1 manifests with MANIFEST_UNSUPPORTED', async () => {
      proxy.addRule({
        path: /\/manifests\/old$/,
        fault: { kind: 'respond', status: 200, headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' }, body: '{"schemaVersion":1}' },
      });
      const error = await caught(proxied('legacy/app:old').getManifest());
      expect(error.code).toBe('MANIFEST_UNSUPPORTED');
      expect(error.message).toMatch(/schema 1/);
    });

    it('checks the bytes of a digest-pinned manifest, and distrusts a lying Docker-Content-Digest', async () => {
      const image = testImage({ payload: Buffer.from('pinned') });
      const digest = await pushTestImage(direct('pinned/app'), image, 'v1');
      const forged = Buffer.from(image.manifest.data.toString().replace('"schemaVersion":2', '"schemaVersion":2 '));
      proxy.addRule({ path: new RegExp(`/manifests/${digest}$`), fault: { kind: 'respond', status: 200, headers: { 'content-type': MEDIA_TYPES.ociManifest }, body: forged } });
      const pinned = await caught(proxied(`pinned/app@${digest}`).getManifest());
      expect(pinned.code).toBe('BLOB_DIGEST_MISMATCH');
      expect(pinned.details).toEqual({ expected: digest, actual: sha256Digest(forged) });

      proxy.addRule({
        path: /\/manifests\/v1$/,
        fault: { kind: 'respond', status: 200, headers: { 'content-type': MEDIA_TYPES.ociManifest, 'docker-content-digest': digest }, body: forged },
      });
      expect((await caught(proxied('pinned/app:v1').getManifest())).code).toBe('BLOB_DIGEST_MISMATCH');
    });

    it('serves a corrupted stored blob that DigestVerifier rejects with BLOB_DIGEST_MISMATCH', async () => {
      const image = testImage({ payload: randomBytes(4096) });
      await pushTestImage(direct('corrupt/app'), image, 'v1');
      const layer = image.layers[0]!.descriptor;
      const hex = layer.digest.slice('sha256:'.length);
      const stored = join(registry.dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
      const bytes = await readFile(stored);
      bytes[bytes.length - 600] = (bytes[bytes.length - 600] ?? 0) ^ 0xff;
      await writeFile(stored, bytes);
      const error = await caught(verifiedBytes(direct('corrupt/app'), layer));
      expect(error.code).toBe('BLOB_DIGEST_MISMATCH');
    });
  });

  describe('interrupted transfers', () => {
    const big = testImage({ payload: randomBytes(256 * 1024) });
    const layer = big.layers[0]!;

    beforeAll(async () => {
      await pushTestImage(direct('cut/app'), big, 'v1');
    });

    it('resumes a blob cut mid-body with a Range request and gets the exact bytes', async () => {
      proxy.addRule({ method: 'GET', path: /\/blobs\//, fault: { kind: 'cut-body', afterBytes: 10_000 }, times: 2 });
      expect((await verifiedBytes(proxied('cut/app'), layer.descriptor)).equals(layer.data)).toBe(true);
      expect(proxy.requests.map((r) => [r.range, r.fault])).toEqual([
        [undefined, 'cut-body'],
        ['bytes=10000-', 'cut-body'],
        ['bytes=20000-', undefined],
      ]);
    });

    it('fails with BLOB_SIZE_MISMATCH when the registry does not advertise ranges', async () => {
      proxy.addRule({ method: 'GET', path: /\/blobs\//, fault: { kind: 'cut-body', afterBytes: 10_000, stripAcceptRanges: true } });
      const error = await caught(verifiedBytes(proxied('cut/app'), layer.descriptor));
      expect(error.code).toBe('BLOB_SIZE_MISMATCH');
      expect(error.message).toMatch(/after 10000 of \d+ bytes .*does not serve ranges/);
      expect(proxy.requests.filter((r) => r.range !== undefined)).toEqual([]);
    });

    it('gives up resuming when the retry budget is spent', async () => {
      proxy.addRule({ method: 'GET', path: /\/blobs\//, fault: { kind: 'cut-body', afterBytes: 1_000 } });
      const error = await caught(verifiedBytes(proxied('cut/app'), layer.descriptor));
      expect(error.code).toBe('BLOB_SIZE_MISMATCH');
      expect(error.message).toMatch(/after 3000 of .*out of retries/);
      expect(proxy.requests).toHaveLength(3);
    });
  });

  describe('retries', () => {
    const image = testImage({ payload: Buffer.from('retry') });

    beforeAll(async () => {
      await pushTestImage(direct('retry/app'), image, 'v1');
    });

    it('retries 503 answers and succeeds on the third try', async () => {
      proxy.addRule({ path: /\/manifests\//, fault: { kind: 'respond', status: 503, body: 'busy' }, times: 2 });
      expect((await proxied('retry/app:v1').getManifest()).digest).toBe(image.manifest.descriptor.digest);
      expect(proxy.requests.map((r) => r.fault)).toEqual(['respond', 'respond', undefined]);
    });

    it('honours 429 with Retry-After and retries reset connections', async () => {
      proxy.addRule({ path: /\/manifests\//, fault: { kind: 'respond', status: 429, headers: { 'retry-after': '0' } }, times: 1 });
      proxy.addRule({ path: /\/manifests\//, fault: { kind: 'reset' }, times: 1 });
      expect((await proxied('retry/app:v1').getManifest()).digest).toBe(image.manifest.descriptor.digest);
      expect(proxy.requests.map((r) => r.fault)).toEqual(['respond', 'reset', undefined]);
    });

    it('gives up with REGISTRY_UNAVAILABLE when the registry keeps answering 503', async () => {
      proxy.addRule({ path: /\/manifests\//, fault: { kind: 'respond', status: 503 } });
      const error = await caught(proxied('retry/app:v1').getManifest());
      expect(error.code).toBe('REGISTRY_UNAVAILABLE');
      expect(error.message).toContain(`http://${proxy.address}/v2/retry/app/manifests/v1`);
      expect(proxy.requests).toHaveLength(3);
    });

    it('gives up quickly with REGISTRY_UNREACHABLE on a closed port', async () => {
      const port = await new Promise<number>((resolve) => {
        const server = createServer().listen(0, '127.0.0.1', () => {
          const { port: free } = server.address() as { port: number };
          server.close(() => resolve(free));
        });
      });
      const started = Date.now();
      const error = await caught(new RegistryClient(parseReference(`127.0.0.1:${port}/gone:v1`), FAST_RETRY).getManifest());
      expect(error.code).toBe('REGISTRY_UNREACHABLE');
      expect(error.message).toContain(`http://127.0.0.1:${port}/v2/gone/manifests/v1`);
      expect(error.message).toContain('ECONNREFUSED');
      expect(Date.now() - started).toBeLessThan(2000);
    });
  });
});

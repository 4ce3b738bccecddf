/** OCI image layout directories written by hand, read through OciLayoutSource (and cross-checked with skopeo). */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findExecutable, run } from '../runner/exec.js';
import { DigestVerifier, sha256Digest } from '../runner/oci/digest.js';
import { OciLayoutSource, REF_NAME_ANNOTATION } from '../runner/oci/layout-source.js';
import { parseManifestOrIndex } from '../runner/oci/manifest.js';
import { openImageSource } from '../runner/oci/open-source.js';
import { parsePlatform, selectManifest } from '../runner/oci/platform.js';
import { MEDIA_TYPES, type Descriptor } from '../runner/oci/types.js';
import { readAll, testIndex, testImage, type TestBlob, type TestImage } from './support/test-images.js';
import { caught } from './support/caught.js';

const skopeo = findExecutable('skopeo');
const required = process.env.CI === 'true';

const blobsOf = (image: TestImage): TestBlob[] => [image.config, ...image.layers, image.manifest];
const tagged = (descriptor: Descriptor, tag: string): Descriptor => ({ ...descriptor, annotations: { [REF_NAME_ANNOTATION]: tag } });

/** Writes oci-layout, index.json listing `entries`, and every blob under blobs/sha256. */
async function writeLayout(dir: string, entries: Descriptor[], blobs: TestBlob[], layoutFile: unknown = { imageLayoutVersion: '1.0.0' }): Promise<string> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify(layoutFile));
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: entries }));
  for (const blob of blobs) await writeFile(join(dir, 'blobs', 'sha256', blob.descriptor.digest.slice('sha256:'.length)), blob.data);
  return dir;
}

describe('OciLayoutSource', () => {
  let root: string;
  let layout: string;
  const single = testImage({ payload: Buffer.from('single') });
  const untagged = testImage({ payload: Buffer.from('untagged') });
  const amd64 = testImage({ platform: parsePlatform('linux/amd64') });
  const arm64 = testImage({ platform: parsePlatform('linux/arm64/v8') });
  const nested = testIndex('oci', [
    { image: amd64, platform: parsePlatform('linux/amd64') },
    { image: arm64, platform: parsePlatform('linux/arm64/v8') },
  ]);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mcpwarm-layout-'));
    layout = await writeLayout(
      join(root, 'layout'),
      [tagged(single.manifest.descriptor, 'v1'), untagged.manifest.descriptor, tagged(nested.descriptor, 'multi')],
      [...blobsOf(single), ...blobsOf(untagged), ...blobsOf(amd64), ...blobsOf(arm64), nested],
    );
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads the manifest a tag names and streams its blobs', async () => {
    const source = new OciLayoutSource(layout, 'v1');
    expect(await source.getManifest()).toEqual({ digest: single.manifest.descriptor.digest, mediaType: MEDIA_TYPES.ociManifest, bytes: single.manifest.data });
    const layer = single.layers[0]!;
    const verifier = new DigestVerifier(layer.descriptor, 'layer');
    const received = readAll(verifier);
    await pipeline(await source.openBlob(layer.descriptor), verifier);
    expect(await received).toEqual(layer.data);
  });

  it('follows a tagged nested index to one platform', async () => {
    const source = openImageSource(`oci:${layout}:multi`);
    expect(source).toBeInstanceOf(OciLayoutSource);
    expect(source.displayName).toBe(`oci:${layout}:multi`);
    const top = await source.getManifest();
    expect(top.mediaType).toBe(MEDIA_TYPES.ociIndex);
    const parsed = parseManifestOrIndex(top);
    if (parsed.kind !== 'index') throw new Error('expected an index');
    const chosen = selectManifest(parsed.index, parsePlatform('linux/arm64'));
    const manifest = await source.getManifest(chosen.digest);
    expect(manifest).toEqual({ digest: arm64.manifest.descriptor.digest, mediaType: MEDIA_TYPES.ociManifest, bytes: arm64.manifest.data });
  });

  it('reads the only entry of an untagged single-image layout', async () => {
    const dir = await writeLayout(join(root, 'only'), [untagged.manifest.descriptor], blobsOf(untagged));
    expect((await new OciLayoutSource(dir).getManifest()).digest).toBe(untagged.manifest.descriptor.digest);
  });

  it('asks for a tag when the layout holds several images, naming the tags', async () => {
    const error = await caught(new OciLayoutSource(layout).getManifest());
    expect(error.code).toBe('REF_INVALID');
    expect(error.message).toContain('(tags: v1, multi)');
  });

  it('reports an unknown tag or digest as IMAGE_NOT_FOUND', async () => {
    const error = await caught(new OciLayoutSource(layout, 'v2').getManifest());
    expect(error.code).toBe('IMAGE_NOT_FOUND');
    expect(error.message).toContain('no image tagged "v2" (tags: v1, multi)');
    expect((await caught(new OciLayoutSource(layout).getManifest(sha256Digest('absent')))).code).toBe('IMAGE_NOT_FOUND');
  });

  it.each([
    ['no oci-layout file', async (dir: string) => rm(join(dir, 'oci-layout')), /no oci-layout/],
    ['a wrong layout version', async (dir: string) => writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}'), /imageLayoutVersion "2.0.0"/],
    ['index.json that is not JSON', async (dir: string) => writeFile(join(dir, 'index.json'), '{"manifests": ['), /not valid JSON/],
    [
      'an index.json digest that walks out of blobs/',
      async (dir: string) =>
        writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MEDIA_TYPES.ociManifest, digest: 'sha256:../../../etc/passwd', size: 1 }] })),
      /manifests\[0\]\.digest "sha256:..\/..\/..\/etc\/passwd" is not sha256/,
    ],
  ])('refuses a layout with %s as LAYOUT_INVALID', async (_name, damage, problem) => {
    const dir = await writeLayout(join(root, `broken-${Math.random().toString(36).slice(2)}`), [tagged(single.manifest.descriptor, 'v1')], blobsOf(single));
    await damage(dir);
    const error = await caught(new OciLayoutSource(dir, 'v1').getManifest());
    expect(error.code).toBe('LAYOUT_INVALID');
    expect(error.message).toMatch(problem);
  });

  it('builds blob paths only from valid digests and reports missing or corrupt blobs', async () => {
    const dir = await writeLayout(join(root, 'damaged'), [tagged(single.manifest.descriptor, 'v1')], blobsOf(single));
    const source = new OciLayoutSource(dir, 'v1');
    expect((await caught(source.openBlob({ mediaType: MEDIA_TYPES.ociLayerTar, digest: 'sha256:../../oci-layout', size: 1 }))).code).toBe('REF_INVALID');
    await rm(join(dir, 'blobs', 'sha256', single.layers[0]!.descriptor.digest.slice('sha256:'.length)));
    expect((await caught(source.openBlob(single.layers[0]!.descriptor))).code).toBe('LAYOUT_INVALID');
    const manifestPath = join(dir, 'blobs', 'sha256', single.manifest.descriptor.digest.slice('sha256:'.length));
    await writeFile(manifestPath, single.manifest.data.toString().replace('"schemaVersion":2', '"schemaVersion":3'));
    expect((await caught(source.getManifest())).code).toBe('BLOB_DIGEST_MISMATCH');
    await writeFile(manifestPath, '{}');
    expect((await caught(source.getManifest())).code).toBe('BLOB_SIZE_MISMATCH');
  });

  it.skipIf(skopeo === undefined && !required)('writes layouts that skopeo reads the same way', async () => {
    if (skopeo === undefined) throw new Error('CI=true and skopeo is not installed');
    const raw = await run(skopeo, ['inspect', '--raw', `oci:${layout}:v1`]);
    expect(raw).toBe(single.manifest.data.toString());
    const chosen = JSON.parse(await run(skopeo, ['inspect', '--override-arch', 'arm64', `oci:${layout}:multi`])) as { Digest: string; Architecture: string };
    // skopeo names the index's digest and reads the architecture from the arm64 image's config.
    expect(chosen).toMatchObject({ Digest: nested.descriptor.digest, Architecture: 'arm64' });
  });
});

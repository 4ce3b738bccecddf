/** Small hand-made images (config, one layer, manifest; indexes over them) for registry and layout tests. */
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { sha256Digest } from '../../runner/oci/digest.js';
import { formatPlatform } from '../../runner/oci/platform.js';
import { tarBuffer } from '../../runner/oci/tar-writer.js';
import { MEDIA_TYPES, type Descriptor, type Platform } from '../../runner/oci/types.js';

export interface TestBlob {
  descriptor: Descriptor;
  data: Buffer;
}

export interface TestImage {
  config: TestBlob;
  layers: TestBlob[];
  manifest: TestBlob;
}

export type ImageFormat = 'oci' | 'docker';

export function testBlob(mediaType: string, data: Buffer, extra: Partial<Descriptor> = {}): TestBlob {
  return { descriptor: { mediaType, digest: sha256Digest(data), size: data.length, ...extra }, data };
}

function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

/** An image with one layer holding `/etc/platform` (the platform's name) and `/data` (`payload`). */
export function testImage(options: { format?: ImageFormat; platform?: Platform; payload?: Buffer } = {}): TestImage {
  const format = options.format ?? 'oci';
  const platform = options.platform ?? { os: 'linux', architecture: 'amd64' };
  const tar = tarBuffer([
    { path: 'etc/', type: 'directory' },
    { path: 'etc/platform', type: 'file', data: Buffer.from(formatPlatform(platform)) },
    { path: 'data', type: 'file', data: options.payload ?? Buffer.from('hello') },
  ]);
  const layer = format === 'oci' ? testBlob(MEDIA_TYPES.ociLayerTar, tar) : testBlob(MEDIA_TYPES.dockerLayerGzip, gzipSync(tar));
  const config = testBlob(
    format === 'oci' ? MEDIA_TYPES.ociConfig : MEDIA_TYPES.dockerConfig,
    jsonBytes({ ...platform, config: { Cmd: ['/bin/true'] }, rootfs: { type: 'layers', diff_ids: [sha256Digest(tar)] } }),
  );
  const manifestType = format === 'oci' ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest;
  const manifest = testBlob(
    manifestType,
    jsonBytes({ schemaVersion: 2, mediaType: manifestType, config: config.descriptor, layers: [layer.descriptor] }),
  );
  return { config, layers: [layer], manifest };
}

/** An index (OCI) or manifest list (Docker) over `images`, each entry carrying its platform. */
export function testIndex(format: ImageFormat, images: Array<{ image: TestImage; platform: Platform }>, extraEntries: Descriptor[] = []): TestBlob {
  const mediaType = format === 'oci' ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.dockerManifestList;
  const manifests = [...images.map(({ image, platform }) => ({ ...image.manifest.descriptor, platform })), ...extraEntries];
  return testBlob(mediaType, jsonBytes({ schemaVersion: 2, mediaType, manifests }));
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The structural push API of the registry client, so these helpers need no particular client. */
export interface PushTarget {
  pushBlob(descriptor: Descriptor, data: Buffer): Promise<void>;
  putManifest(tagOrDigest: string, bytes: Buffer, mediaType: string): Promise<string>;
}

/** Pushes the image's blobs, then its manifest under `tag` (or its digest). */
export async function pushTestImage(target: PushTarget, image: TestImage, tag?: string): Promise<string> {
  for (const blob of [image.config, ...image.layers]) await target.pushBlob(blob.descriptor, blob.data);
  return target.putManifest(tag ?? image.manifest.descriptor.digest, image.manifest.data, image.manifest.descriptor.mediaType);
}

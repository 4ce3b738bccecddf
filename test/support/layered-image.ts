/** Hand-made multi-layer images (gzip, zstd-free) built from tar entries, for pipeline tests. */
import { gzipSync } from 'node:zlib';
import { sha256Digest } from '../../runner/oci/digest.js';
import { tarBuffer, type TarEntry } from '../../runner/oci/tar-writer.js';
import { MEDIA_TYPES } from '../../runner/oci/types.js';
import { testBlob, type TestImage } from './test-images.js';

export function layeredTestImage(layers: TarEntry[][], config: Record<string, unknown> = {}): TestImage {
  const tars = layers.map((entries) => tarBuffer(entries));
  const blobs = tars.map((tar) => testBlob(MEDIA_TYPES.ociLayerGzip, gzipSync(tar)));
  const configBlob = testBlob(
    MEDIA_TYPES.ociConfig,
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: ['/bin/true'], ...config },
        rootfs: { type: 'layers', diff_ids: tars.map((tar) => sha256Digest(tar)) },
      }),
    ),
  );
  const manifest = testBlob(
    MEDIA_TYPES.ociManifest,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        config: configBlob.descriptor,
        layers: blobs.map((blob) => blob.descriptor),
      }),
    ),
  );
  return { config: configBlob, layers: blobs, manifest };
}

/** A file entry with text content. */
export const file = (path: string, text: string, mode = 0o644): TarEntry => ({ path, type: 'file', data: Buffer.from(text), mode });
export const dir = (path: string): TarEntry => ({ path, type: 'directory', mode: 0o755 });

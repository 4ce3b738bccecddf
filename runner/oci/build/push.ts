/**
 * Pushes a built image to a registry through any client with these three calls (the registry
 * client in runner/oci/registry-client.ts has them): blobs the registry already has are skipped,
 * and the manifest goes last, so a tag never names an image with missing blobs.
 */
import { readFile } from 'node:fs/promises';
import type { Descriptor } from '../types.js';
import type { BuiltImage } from './builder.js';

export interface ImagePushTarget {
  hasBlob(digest: string): Promise<boolean>;
  pushBlob(descriptor: Descriptor, data: Buffer): Promise<void>;
  /** What it resolves with (the registry client answers the digest) is not used. */
  putManifest(tagOrDigest: string, bytes: Buffer, mediaType: string): Promise<unknown>;
}

export interface PushResult {
  digest: string;
  /** Digests of the blobs uploaded; the others were there already. */
  uploaded: string[];
}

/** Pushes under `reference` (a tag), or by digest when none is given. */
export async function pushImage(image: BuiltImage, target: ImagePushTarget, reference?: string): Promise<PushResult> {
  const blobs: Array<{ descriptor: Descriptor; read: () => Promise<Buffer> }> = [
    ...image.layers.map((layer) => ({ descriptor: layer.descriptor, read: () => readFile(layer.file) })),
    { descriptor: image.config.descriptor, read: async () => image.config.bytes },
  ];
  const uploaded: string[] = [];
  for (const { descriptor, read } of blobs) {
    if (await target.hasBlob(descriptor.digest)) continue;
    await target.pushBlob(descriptor, await read());
    uploaded.push(descriptor.digest);
  }
  await target.putManifest(reference ?? image.manifest.digest, image.manifest.bytes, image.manifest.mediaType);
  return { digest: image.manifest.digest, uploaded };
}

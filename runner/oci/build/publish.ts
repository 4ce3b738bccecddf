/** Build an image from a spec and put it where it is wanted: a registry, an OCI layout directory, or both. */
import { performance } from 'node:perf_hooks';
import { formatReference, parseReference } from '../reference.js';
import { RegistryClient } from '../registry-client.js';
import { buildImage } from './builder.js';
import { writeOciLayout } from './oci-layout-writer.js';
import { pushImage } from './push.js';

export interface PublishOptions {
  /** The image's reference (registry/repository:tag); its tag also names the image in an OCI layout. */
  tag: string;
  push?: boolean;
  ociLayout?: string;
  insecure?: boolean;
}

export interface PublishResult {
  reference: string;
  digest: string;
  layers: number;
  compressedBytes: number;
  buildMs: number;
  /** Blobs uploaded by the push (those already in the registry are skipped). */
  uploaded?: string[];
  ociLayout?: string;
}

export async function buildAndPublish(specPath: string, options: PublishOptions): Promise<PublishResult> {
  const ref = parseReference(options.tag);
  const start = performance.now();
  const image = await buildImage(specPath);
  try {
    const buildMs = performance.now() - start;
    const result: PublishResult = {
      reference: formatReference(ref),
      digest: image.manifest.digest,
      layers: image.layers.length,
      compressedBytes: image.layers.reduce((sum, layer) => sum + layer.descriptor.size, 0),
      buildMs,
    };
    if (options.ociLayout) {
      await writeOciLayout(image, options.ociLayout, ref.tag ?? 'latest');
      result.ociLayout = options.ociLayout;
    }
    if (options.push) {
      const client = new RegistryClient(ref, { insecure: options.insecure ?? false });
      result.uploaded = (await pushImage(image, client, ref.tag ?? image.manifest.digest)).uploaded;
    }
    return result;
  } finally {
    await image.cleanup();
  }
}

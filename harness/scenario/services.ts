/**
 * The services every scenario with images shares, each started with its stop pushed on the run's
 * teardown stack: the registry, one address per registry link, and the images built from their
 * specs and pushed. Driver-specific services (agents, controllers, the Docker engine) are stood
 * up by the drivers the same way.
 */
import { join } from 'node:path';
import type { CleanupStack } from '../../runner/cleanup-stack.js';
import { buildAndPublish } from '../../runner/oci/build/publish.js';
import { openRegistryLink, type LinkSpec, type RegistryLink } from '../cluster/link-shaping.js';
import { startLocalRegistry } from '../cluster/local-registry.js';
import type { ImageSource } from './schema.js';

export interface SharedServices {
  links: Map<string, RegistryLink>;
  /** Repository path and tag of each image built here (`scenario/NAME:1`), or the given reference. */
  images: Map<string, { path?: string; ref?: string; digest?: string }>;
}

export async function startSharedServices(options: {
  workDir: string;
  links: readonly LinkSpec[];
  images: readonly ImageSource[];
  imageSpecs: Readonly<Record<string, string>>;
  teardown: CleanupStack;
  progress: (line: string) => void;
}): Promise<SharedServices> {
  const { teardown, progress } = options;
  const links = new Map<string, RegistryLink>();
  const images = new Map<string, { path?: string; ref?: string; digest?: string }>();
  if (options.images.length === 0) return { links, images };
  const registry = await startLocalRegistry({ dir: join(options.workDir, 'registry'), port: 0 });
  teardown.push('registry', () => registry.stop());
  progress(`registry at ${registry.address}`);
  const [host, port] = [registry.address.split(':')[0]!, registry.port];
  for (const spec of options.links) {
    const link = await openRegistryLink(spec, { host, port });
    teardown.push(`link ${spec.name}`, () => link.close());
    links.set(spec.name, link);
    if (spec.kind === 'shaped') progress(`link ${spec.name} at ${link.address}: ${spec.bandwidthBitsPerSecond / 1e6} Mbit/s (${link.method}${link.fallbackReason ? `: ${link.fallbackReason}` : ''}), ${spec.rttMs} ms round trip`);
  }
  for (const image of options.images) {
    if ('ref' in image) {
      images.set(image.name, { ref: image.ref });
      continue;
    }
    const path = `scenario/${image.name}:1`;
    progress(`building ${image.spec} and pushing it as ${registry.address}/${path}`);
    const published = await buildAndPublish(options.imageSpecs[image.name]!, { tag: `${registry.address}/${path}`, push: true });
    images.set(image.name, { path, digest: published.digest });
  }
  return { links, images };
}

/** The reference of `image` over `link`: the link's address in front of the pushed repository. */
export function imageReference(services: SharedServices, image: string, link: string): string {
  const entry = services.images.get(image);
  if (entry === undefined) throw new Error(`no image ${image} in this run`);
  if (entry.ref !== undefined) return entry.ref;
  const address = services.links.get(link)?.address;
  if (address === undefined) throw new Error(`no registry link ${link} in this run`);
  return `${address}/${entry.path}`;
}

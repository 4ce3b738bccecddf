/**
 * The services every scenario with images shares, each started with its stop pushed on the run's
 * teardown stack: the registry, one address per registry link, and the images built from their
 * specs and pushed. Driver-specific services (agents, controllers, the Docker engine) are stood
 * up by the drivers the same way.
 */
import { join } from 'node:path';
import { McpWarmError } from '../../runner/errors.js';
import { buildAndPublish } from '../../runner/oci/build/publish.js';
import { openRegistryLink, type LinkSpec, type RegistryLink } from '../cluster/link-shaping.js';
import { startLocalRegistry } from '../cluster/local-registry.js';
import type { ImageSource } from './schema.js';
import type { Teardown } from './teardown.js';

export interface SharedServices {
  links: Map<string, RegistryLink>;
  /** Repository path and tag of each image built here (`scenario/NAME:1`, with its manifest and config digests), or the given reference. */
  images: Map<string, { path?: string; ref?: string; digest?: string; configDigest?: string }>;
}

export async function startSharedServices(options: {
  workDir: string;
  links: readonly LinkSpec[];
  images: readonly ImageSource[];
  imageSpecs: Readonly<Record<string, string>>;
  teardown: Teardown;
  progress: (line: string) => void;
}): Promise<SharedServices> {
  const { teardown, progress } = options;
  const links = new Map<string, RegistryLink>();
  const images: SharedServices['images'] = new Map();
  if (options.images.length === 0) return { links, images };
  const registry = await startLocalRegistry({ dir: join(options.workDir, 'registry'), port: 0 });
  teardown.push('registry', () => registry.stop());
  progress(`registry at ${registry.address}`);
  const upstream = { host: registry.address.split(':')[0]!, port: registry.port, storageDir: registry.storageDir };
  for (const spec of options.links) {
    const link = await openRegistryLink(spec, upstream, join(options.workDir, 'links', spec.name));
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
    images.set(image.name, { path, digest: published.digest, configDigest: await configDigest(registry.url, `scenario/${image.name}`, published.digest) });
  }
  return { links, images };
}

/** The digest of an image's config (its image id for Docker), from the manifest the registry serves. */
async function configDigest(registryUrl: string, repository: string, manifestDigest: string): Promise<string> {
  const response = await fetch(`${registryUrl}/v2/${repository}/manifests/${manifestDigest}`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
  });
  const manifest = (await response.json()) as { config?: { digest?: string } };
  if (!response.ok || manifest.config?.digest === undefined) throw new McpWarmError('REGISTRY_PROTOCOL', `the registry did not serve the manifest of ${repository}@${manifestDigest} (${response.status})`);
  return manifest.config.digest;
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

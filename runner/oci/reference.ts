/**
 * Image references, parsed as Docker parses them (distribution's reference grammar plus Docker
 * Hub normalization), and the `oci:DIR[:TAG]` form that names an OCI image layout directory.
 */
import { McpWarmError } from '../errors.js';
import { isDigest } from './digest.js';

export interface ImageReference {
  /** Registry host, with port when given (`docker.io` for Docker Hub). */
  registry: string;
  /** Repository path inside the registry (`library/alpine` for Hub's official images). */
  repository: string;
  tag?: string;
  /** `sha256:<64 hex>`: when present, the manifest's bytes must hash to it. */
  digest?: string;
}

export type SourceReference =
  | { kind: 'registry'; ref: ImageReference }
  | { kind: 'oci-layout'; dir: string; tag?: string };

export const DOCKER_HUB_REGISTRY = 'docker.io';
/** Docker Hub's name in references is not the host that serves its API. */
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
export const DEFAULT_TAG = 'latest';
const NAME_TOTAL_LENGTH_MAX = 255;

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_PATTERN = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const PATH_COMPONENT_PATTERN = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_PATTERN = /^[\w][\w.-]{0,127}$/;
/** `org.opencontainers.image.ref.name` grammar from the image-layout spec. */
const LAYOUT_REF_COMPONENT = '[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*';
const LAYOUT_REF_PATTERN = new RegExp(`^${LAYOUT_REF_COMPONENT}(?:/${LAYOUT_REF_COMPONENT})*$`);

export function isValidTag(tag: string): boolean {
  return TAG_PATTERN.test(tag);
}

function invalid(input: string, problem: string): McpWarmError {
  return new McpWarmError('REF_INVALID', `invalid image reference ${JSON.stringify(input)}: ${problem}`, {
    details: { input, problem },
  });
}

function looksLikeDomain(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

function splitDigest(input: string): { name: string; digest?: string } {
  const at = input.indexOf('@');
  if (at === -1) return { name: input };
  const digest = input.slice(at + 1);
  if (!isDigest(digest)) {
    const problem = digest.includes(':') && !digest.startsWith('sha256:')
      ? `unsupported digest algorithm in ${JSON.stringify(digest)} (only sha256)`
      : `digest ${JSON.stringify(digest)} is not sha256:<64 lowercase hex>`;
    throw invalid(input, problem);
  }
  return { name: input.slice(0, at), digest };
}

function splitTag(input: string, nameWithTag: string): { name: string; tag?: string } {
  const colon = nameWithTag.lastIndexOf(':');
  // A colon before the last slash belongs to the registry's port, not to a tag.
  if (colon === -1 || colon < nameWithTag.lastIndexOf('/')) return { name: nameWithTag };
  const tag = nameWithTag.slice(colon + 1);
  if (!isValidTag(tag)) {
    throw invalid(input, `tag ${JSON.stringify(tag)} must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  }
  return { name: nameWithTag.slice(0, colon), tag };
}

/**
 * Parses `name`, `name:tag`, `name@sha256:...`, `name:tag@sha256:...` and `host[:port]/path...`.
 * Without a registry the name is on Docker Hub (`docker.io`), where a one-component name gets the
 * implicit `library/`. Without tag and digest the tag is `latest`.
 */
export function parseReference(input: string): ImageReference {
  if (input.length === 0) throw invalid(input, 'empty');
  if (/\s/.test(input)) throw invalid(input, 'contains whitespace');
  const { name: nameWithTag, digest } = splitDigest(input);
  const { name, tag } = splitTag(input, nameWithTag);
  if (name.length === 0) throw invalid(input, 'the repository name is empty');
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    throw invalid(input, `the name is ${name.length} characters long (at most ${NAME_TOTAL_LENGTH_MAX})`);
  }

  const slash = name.indexOf('/');
  const first = slash === -1 ? name : name.slice(0, slash);
  let registry = DOCKER_HUB_REGISTRY;
  let path = name;
  if (slash !== -1 && looksLikeDomain(first)) {
    if (!DOMAIN_PATTERN.test(first)) throw invalid(input, `registry ${JSON.stringify(first)} is not a valid host[:port]`);
    registry = DOCKER_HUB_ALIASES.has(first) ? DOCKER_HUB_REGISTRY : first;
    path = name.slice(slash + 1);
  }

  const components = path.split('/');
  for (const component of components) {
    if (component.length === 0) throw invalid(input, 'empty path component (double or trailing slash)');
    if (!PATH_COMPONENT_PATTERN.test(component)) {
      const hint = component !== component.toLowerCase() ? ' (repository names must be lowercase)' : '';
      throw invalid(input, `path component ${JSON.stringify(component)} is not valid${hint}`);
    }
  }
  const repository = registry === DOCKER_HUB_REGISTRY && components.length === 1 ? `library/${path}` : path;

  const ref: ImageReference = { registry, repository };
  if (tag !== undefined || digest === undefined) ref.tag = tag ?? DEFAULT_TAG;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** The fully qualified form: `registry/repository[:tag][@digest]`; parsing it gives `ref` back. */
export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}

/** The host[:port] that serves the registry's API. */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB_REGISTRY ? DOCKER_HUB_API_HOST : registry;
}

/** Whether `registry` (host, `host:port`, `[v6]` or `[v6]:port`) is this machine's loopback. */
export function isLoopbackRegistry(registry: string): boolean {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(registry);
  if (bracketed) return ['::1', '0:0:0:0:0:0:0:1'].includes((bracketed[1] ?? '').toLowerCase());
  const host = registry.replace(/:\d+$/, '').toLowerCase();
  if (host === 'localhost') return true;
  const octets = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return octets !== null && octets.slice(1).every((octet) => Number(octet) <= 255);
}

const LAYOUT_PREFIX = 'oci:';

/**
 * Parses what a user names an image source with: `oci:DIR[:TAG]` is an OCI image layout, anything
 * else a registry reference. As in skopeo's `oci:` transport, DIR ends at the first colon after the
 * prefix, so a directory whose path contains a colon cannot be named (use a symlink to it), and a
 * tag may itself contain colons (`oci:dir:a:b` is tag `a:b`). Because of the prefix, a registry host
 * literally named `oci` with a port cannot be written in the short form; use its qualified name.
 */
export function parseSourceReference(input: string): SourceReference {
  if (!input.startsWith(LAYOUT_PREFIX)) return { kind: 'registry', ref: parseReference(input) };
  const rest = input.slice(LAYOUT_PREFIX.length);
  const colon = rest.indexOf(':');
  const dir = colon === -1 ? rest : rest.slice(0, colon);
  if (dir.length === 0) throw invalid(input, 'the OCI layout directory is empty (write oci:DIR[:TAG])');
  if (colon === -1) return { kind: 'oci-layout', dir };
  const tag = rest.slice(colon + 1);
  if (!LAYOUT_REF_PATTERN.test(tag)) {
    throw invalid(input, `layout tag ${JSON.stringify(tag)} is not a valid org.opencontainers.image.ref.name`);
  }
  return { kind: 'oci-layout', dir, tag };
}

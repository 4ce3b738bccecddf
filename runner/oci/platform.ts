/** Choosing the manifest for one platform out of an image index (manifest list). */
import { McpWarmError } from '../errors.js';
import type { Descriptor, ImageIndex, Platform } from './types.js';

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

/** Spellings of architectures that uname and other tools use, mapped to the OCI (GOARCH) names. */
const ARCHITECTURE_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64' };
const PLATFORM_COMPONENT = /^[a-z0-9_.-]+$/;

/** Parses `os/arch[/variant]`, e.g. `linux/arm64/v8`. */
export function parsePlatform(input: string): Platform {
  const parts = input.toLowerCase().split('/');
  if (parts.length < 2 || parts.length > 3 || !parts.every((part) => PLATFORM_COMPONENT.test(part))) {
    throw new McpWarmError('USAGE_INVALID', `invalid platform ${JSON.stringify(input)}: expected os/arch[/variant], e.g. linux/arm64/v8`);
  }
  const [os = '', arch = '', variant] = parts;
  const platform: Platform = { os, architecture: ARCHITECTURE_ALIASES[arch] ?? arch };
  if (variant !== undefined) platform.variant = variant;
  return platform;
}

export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
}

/**
 * The variant a platform means when it names none, as containerd normalizes them: arm64 is v8,
 * 32-bit arm is v7, and amd64's baseline `v1` is the same as no variant.
 */
function normalizedVariant(platform: Platform): string {
  const variant = platform.variant ?? '';
  switch (platform.architecture) {
    case 'arm64':
      return variant === '' ? 'v8' : variant;
    case 'arm':
      return variant === '' ? 'v7' : variant;
    case 'amd64':
      return variant === 'v1' ? '' : variant;
    default:
      return variant;
  }
}

/** BuildKit stores provenance and SBOM attestations in the index under the platform unknown/unknown. */
function isAttestation(descriptor: Descriptor): boolean {
  return (
    (descriptor.platform?.os === 'unknown' && descriptor.platform.architecture === 'unknown') ||
    descriptor.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest'
  );
}

function matches(have: Platform, want: Platform): boolean {
  return have.os === want.os && have.architecture === want.architecture && normalizedVariant(have) === normalizedVariant(want);
}

/** The first entry of `index` for platform `want`; PLATFORM_NOT_FOUND lists what the index has. */
export function selectManifest(index: ImageIndex, want: Platform): Descriptor {
  const candidates = index.manifests.filter(
    (descriptor): descriptor is Descriptor & { platform: Platform } => descriptor.platform !== undefined && !isAttestation(descriptor),
  );
  const found = candidates.find((descriptor) => matches(descriptor.platform, want));
  if (found) return found;
  const available = candidates.map((descriptor) => formatPlatform(descriptor.platform));
  throw new McpWarmError(
    'PLATFORM_NOT_FOUND',
    `the image index has no manifest for ${formatPlatform(want)}; it has: ${available.length > 0 ? available.join(', ') : 'no platform-specific manifests'}`,
    { details: { wanted: formatPlatform(want), available } },
  );
}

import { describe, expect, it } from 'vitest';
import { McpWarmError } from '../errors.js';
import { DEFAULT_PLATFORM, formatPlatform, parsePlatform, selectManifest } from './platform.js';
import { MEDIA_TYPES, type Descriptor, type ImageIndex, type Platform } from './types.js';

function entry(n: number, platform?: Platform, annotations?: Record<string, string>): Descriptor {
  const descriptor: Descriptor = { mediaType: MEDIA_TYPES.ociManifest, digest: `sha256:${String(n).repeat(64).slice(0, 64)}`, size: 100 + n };
  if (platform) descriptor.platform = platform;
  if (annotations) descriptor.annotations = annotations;
  return descriptor;
}

function index(...manifests: Descriptor[]): ImageIndex {
  return { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests };
}

describe('parsePlatform', () => {
  it.each([
    ['linux/amd64', { os: 'linux', architecture: 'amd64' }],
    ['linux/arm64/v8', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ['Linux/X86_64', { os: 'linux', architecture: 'amd64' }],
    ['linux/aarch64', { os: 'linux', architecture: 'arm64' }],
  ])('parses %s', (input, expected) => {
    expect(parsePlatform(input)).toEqual(expected);
  });

  it.each(['linux', 'linux/', '/amd64', 'linux/arm/v7/extra', 'linux/am d64'])('rejects %j', (input) => {
    expect(() => parsePlatform(input)).toThrow(/invalid platform/);
  });

  it('formats what it parses', () => {
    expect(formatPlatform(parsePlatform('linux/arm/v6'))).toBe('linux/arm/v6');
    expect(formatPlatform(DEFAULT_PLATFORM)).toBe('linux/amd64');
  });
});

describe('selectManifest', () => {
  const amd64 = entry(1, { os: 'linux', architecture: 'amd64' });
  const arm64 = entry(2, { os: 'linux', architecture: 'arm64', variant: 'v8' });
  const armv7 = entry(3, { os: 'linux', architecture: 'arm', variant: 'v7' });
  const attestation = entry(4, { os: 'unknown', architecture: 'unknown' }, { 'vnd.docker.reference.type': 'attestation-manifest' });

  it('picks the exact os and architecture', () => {
    expect(selectManifest(index(attestation, amd64, arm64), DEFAULT_PLATFORM)).toBe(amd64);
  });

  it('treats arm64 without a variant as v8, in the index and in the request', () => {
    const arm64Bare = entry(5, { os: 'linux', architecture: 'arm64' });
    expect(selectManifest(index(amd64, arm64), { os: 'linux', architecture: 'arm64' })).toBe(arm64);
    expect(selectManifest(index(amd64, arm64Bare), parsePlatform('linux/arm64/v8'))).toBe(arm64Bare);
  });

  it('treats arm without a variant as v7 and keeps other variants apart', () => {
    expect(selectManifest(index(armv7), parsePlatform('linux/arm'))).toBe(armv7);
    expect(() => selectManifest(index(armv7), parsePlatform('linux/arm/v6'))).toThrow(/linux\/arm\/v6/);
  });

  it('skips attestation manifests even when asked for unknown/unknown', () => {
    expect(() => selectManifest(index(attestation), { os: 'unknown', architecture: 'unknown' })).toThrow(/no platform-specific manifests/);
  });

  it('lists the available platforms in PLATFORM_NOT_FOUND', () => {
    let error: unknown;
    try {
      selectManifest(index(amd64, arm64, attestation, entry(6)), parsePlatform('linux/s390x'));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(McpWarmError);
    expect((error as McpWarmError).code).toBe('PLATFORM_NOT_FOUND');
    expect((error as McpWarmError).message).toBe('the image index has no manifest for linux/s390x; it has: linux/amd64, linux/arm64/v8');
    expect((error as McpWarmError).details).toEqual({ wanted: 'linux/s390x', available: ['linux/amd64', 'linux/arm64/v8'] });
  });
});

import { describe, expect, it } from 'vitest';
import { sha256Digest } from './digest.js';
import { parseManifestOrIndex, resolveManifestMediaType } from './manifest.js';
import { MEDIA_TYPES, type FetchedManifest } from './types.js';

const descriptor = (n: number) => ({ mediaType: MEDIA_TYPES.ociLayerGzip, digest: sha256Digest(String(n)), size: n });

function fetched(mediaType: string, body: unknown): FetchedManifest {
  const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { digest: sha256Digest(bytes), mediaType, bytes };
}

describe('parseManifestOrIndex', () => {
  it('tells manifests from indexes by media type', () => {
    const manifest = { schemaVersion: 2, mediaType: MEDIA_TYPES.dockerManifest, config: descriptor(1), layers: [descriptor(2)] };
    expect(parseManifestOrIndex(fetched(MEDIA_TYPES.dockerManifest, manifest))).toEqual({ kind: 'manifest', manifest });
    const index = { schemaVersion: 2, manifests: [{ ...descriptor(3), platform: { os: 'linux', architecture: 'arm64' } }] };
    expect(parseManifestOrIndex(fetched(MEDIA_TYPES.ociIndex, index))).toEqual({ kind: 'index', index });
  });

  it.each([
    ['not JSON', MEDIA_TYPES.ociManifest, '{', /not valid JSON/],
    ['a JSON array', MEDIA_TYPES.ociManifest, [], /not a JSON object/],
    ['schemaVersion 1', MEDIA_TYPES.ociManifest, { schemaVersion: 1 }, /schemaVersion is 1, expected 2/],
    ['a mediaType other than declared', MEDIA_TYPES.ociManifest, { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [] }, /differs from the declared/],
    ['an index without manifests', MEDIA_TYPES.ociIndex, { schemaVersion: 2 }, /needs a "manifests" list/],
    ['a manifest without layers', MEDIA_TYPES.ociManifest, { schemaVersion: 2, config: descriptor(1) }, /needs a "layers" list/],
    ['a manifest without config', MEDIA_TYPES.ociManifest, { schemaVersion: 2, layers: [] }, /config is not an object/],
    ['a sha512 layer digest', MEDIA_TYPES.ociManifest, { schemaVersion: 2, config: descriptor(1), layers: [{ ...descriptor(2), digest: `sha512:${'a'.repeat(128)}` }] }, /layers\[0\]\.digest .* is not sha256/],
    ['a negative size', MEDIA_TYPES.ociManifest, { schemaVersion: 2, config: { ...descriptor(1), size: -1 }, layers: [] }, /config\.size is not a non-negative integer/],
    ['a platform without architecture', MEDIA_TYPES.ociIndex, { schemaVersion: 2, manifests: [{ ...descriptor(1), platform: { os: 'linux' } }] }, /manifests\[0\]\.platform needs os and architecture/],
    ['annotations that are not strings', MEDIA_TYPES.ociIndex, { schemaVersion: 2, manifests: [{ ...descriptor(1), annotations: { a: 1 } }] }, /annotations is not a map of strings/],
  ])('refuses %s with MANIFEST_INVALID', (_name, mediaType, body, problem) => {
    expect(() => parseManifestOrIndex(fetched(mediaType, body))).toThrow(expect.objectContaining({ code: 'MANIFEST_INVALID', message: expect.stringMatching(problem) }));
  });

  it('refuses media types that are neither manifests nor indexes', () => {
    expect(() => parseManifestOrIndex(fetched(MEDIA_TYPES.ociConfig, { schemaVersion: 2 }))).toThrow(expect.objectContaining({ code: 'MANIFEST_UNSUPPORTED' }));
  });
});

describe('resolveManifestMediaType', () => {
  const body = (value: unknown) => Buffer.from(JSON.stringify(value));

  it('takes a supported declared type, ignoring parameters and case', () => {
    expect(resolveManifestMediaType(`${MEDIA_TYPES.ociIndex}; charset=utf-8`, body({}), 'm')).toBe(MEDIA_TYPES.ociIndex);
    expect(resolveManifestMediaType(MEDIA_TYPES.dockerManifestList.toUpperCase(), body({}), 'm')).toBe(MEDIA_TYPES.dockerManifestList);
  });

  it('falls back to the body for generic or missing types', () => {
    expect(resolveManifestMediaType('application/json', body({ mediaType: MEDIA_TYPES.dockerManifest }), 'm')).toBe(MEDIA_TYPES.dockerManifest);
    expect(resolveManifestMediaType(undefined, body({ schemaVersion: 2, manifests: [] }), 'm')).toBe(MEDIA_TYPES.ociIndex);
    expect(resolveManifestMediaType('', body({ schemaVersion: 2, config: {}, layers: [] }), 'm')).toBe(MEDIA_TYPES.ociManifest);
  });

  it.each([
    ['application/vnd.docker.distribution.manifest.v1+prettyjws', body({ schemaVersion: 1 }), /schema 1/],
    ['application/json', body({ schemaVersion: 1, name: 'x' }), /schema 1/],
    ['application/json', body({ hello: 'world' }), /"application\/json"/],
    [undefined, Buffer.from('not json'), /"\(none\)"/],
    ['application/vnd.oci.image.config.v1+json', body({}), /image\.config/],
  ])('refuses %s with MANIFEST_UNSUPPORTED', (declared, bytes, problem) => {
    expect(() => resolveManifestMediaType(declared, bytes, 'manifest m')).toThrow(
      expect.objectContaining({ code: 'MANIFEST_UNSUPPORTED', message: expect.stringMatching(problem) }),
    );
  });
});

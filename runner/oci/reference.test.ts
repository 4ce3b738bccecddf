import { describe, expect, it } from 'vitest';
import { McpWarmError } from '../errors.js';
import {
  formatReference,
  isLoopbackRegistry,
  parseReference,
  parseSourceReference,
  registryApiHost,
  type ImageReference,
} from './reference.js';

const HEX = 'a'.repeat(64);
const DIGEST = `sha256:${HEX}`;

const VALID: Array<[string, ImageReference]> = [
  ['alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }],
  ['alpine:3.20', { registry: 'docker.io', repository: 'library/alpine', tag: '3.20' }],
  [`alpine@${DIGEST}`, { registry: 'docker.io', repository: 'library/alpine', digest: DIGEST }],
  [`alpine:3.20@${DIGEST}`, { registry: 'docker.io', repository: 'library/alpine', tag: '3.20', digest: DIGEST }],
  ['bitnami/redis', { registry: 'docker.io', repository: 'bitnami/redis', tag: 'latest' }],
  ['docker.io/ubuntu', { registry: 'docker.io', repository: 'library/ubuntu', tag: 'latest' }],
  ['index.docker.io/library/ubuntu:22.04', { registry: 'docker.io', repository: 'library/ubuntu', tag: '22.04' }],
  ['ghcr.io/owner/app:v1', { registry: 'ghcr.io', repository: 'owner/app', tag: 'v1' }],
  ['ghcr.io/app', { registry: 'ghcr.io', repository: 'app', tag: 'latest' }],
  ['localhost/name', { registry: 'localhost', repository: 'name', tag: 'latest' }],
  ['localhost:5000/ns/name:tag', { registry: 'localhost:5000', repository: 'ns/name', tag: 'tag' }],
  ['127.0.0.1:45123/mcp/fixture:1.0', { registry: '127.0.0.1:45123', repository: 'mcp/fixture', tag: '1.0' }],
  ['[::1]:5000/x', { registry: '[::1]:5000', repository: 'x', tag: 'latest' }],
  ['registry.example.com:443/a/b/c:TAG_x-1.2', { registry: 'registry.example.com:443', repository: 'a/b/c', tag: 'TAG_x-1.2' }],
  ['a.b/c__d/e-f--g/h.i_j', { registry: 'a.b', repository: 'c__d/e-f--g/h.i_j', tag: 'latest' }],
  [`host:5000/ns/name@${DIGEST}`, { registry: 'host:5000', repository: 'ns/name', digest: DIGEST }],
  ['Example.COM/lower', { registry: 'Example.COM', repository: 'lower', tag: 'latest' }],
  [`name:${'t'.repeat(128)}`, { registry: 'docker.io', repository: 'library/name', tag: 't'.repeat(128) }],
];

const INVALID: Array<[string, RegExp]> = [
  ['', /empty/],
  ['Alpine', /must be lowercase/],
  ['ghcr.io/Owner/app', /must be lowercase/],
  ['alpine:', /tag ""/],
  ['alpine:-bad', /tag "-bad"/],
  [`alpine:${'t'.repeat(129)}`, /tag/],
  ['alpine@sha256:abc', /not sha256:<64 lowercase hex>/],
  [`alpine@sha512:${'a'.repeat(128)}`, /unsupported digest algorithm/],
  [`alpine@sha256:${'A'.repeat(64)}`, /not sha256/],
  ['a//b', /empty path component/],
  ['a/b/', /empty path component/],
  ['/a', /empty path component/],
  ['foo/bar baz', /whitespace/],
  ['a_-b', /path component "a_-b"/],
  ['-a', /path component "-a"/],
  ['a..b', /path component "a..b"/],
  ['host_name.com/x', /registry "host_name.com"/],
  ['host:port/x', /registry "host:port"/],
  ['localhost:5000/', /empty path component/],
  [`${'a'.repeat(256)}`, /256 characters long/],
  ['a:b:c', /path component "a:b"/],
  [':tag', /repository name is empty/],
];

describe('parseReference', () => {
  it.each(VALID)('parses %s', (input, expected) => {
    expect(parseReference(input)).toEqual(expected);
  });

  it.each(INVALID)('rejects %j with REF_INVALID', (input, problem) => {
    let error: unknown;
    try {
      parseReference(input);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(McpWarmError);
    expect((error as McpWarmError).code).toBe('REF_INVALID');
    expect((error as McpWarmError).message).toMatch(problem);
  });

  it('gives back what it parsed after formatting', () => {
    for (const [input, expected] of VALID) {
      const formatted = formatReference(parseReference(input));
      expect(parseReference(formatted), `${input} -> ${formatted}`).toEqual(expected);
    }
    expect(formatReference(parseReference('alpine'))).toBe('docker.io/library/alpine:latest');
  });
});

describe('registryApiHost', () => {
  it('maps Docker Hub to its API host and leaves others alone', () => {
    expect(registryApiHost('docker.io')).toBe('registry-1.docker.io');
    expect(registryApiHost('ghcr.io')).toBe('ghcr.io');
  });
});

describe('isLoopbackRegistry', () => {
  it.each([
    ['localhost', true],
    ['LOCALHOST:5000', true],
    ['127.0.0.1', true],
    ['127.1.2.3:8080', true],
    ['[::1]', true],
    ['[::1]:5000', true],
    ['[0:0:0:0:0:0:0:1]:5000', true],
    ['127.0.0.256', false],
    ['128.0.0.1', false],
    ['localhost.example.com', false],
    ['127.0.0.1.nip.io', false],
    ['[::2]:5000', false],
    ['docker.io', false],
  ])('%s -> %s', (registry, loopback) => {
    expect(isLoopbackRegistry(registry)).toBe(loopback);
  });
});

describe('parseSourceReference', () => {
  it('reads oci:DIR[:TAG], splitting at the first colon as skopeo does', () => {
    expect(parseSourceReference('oci:/tmp/layout')).toEqual({ kind: 'oci-layout', dir: '/tmp/layout' });
    expect(parseSourceReference('oci:./out:v1')).toEqual({ kind: 'oci-layout', dir: './out', tag: 'v1' });
    expect(parseSourceReference('oci:out:reg.io/app:v1')).toEqual({ kind: 'oci-layout', dir: 'out', tag: 'reg.io/app:v1' });
  });

  it('treats everything else as a registry reference', () => {
    expect(parseSourceReference('localhost:5000/app:v1')).toEqual({
      kind: 'registry',
      ref: { registry: 'localhost:5000', repository: 'app', tag: 'v1' },
    });
  });

  it.each([
    ['oci:', /directory is empty/],
    ['oci::tag', /directory is empty/],
    ['oci:dir:', /layout tag ""/],
    ['oci:dir:bad tag', /layout tag "bad tag"/],
    ['oci:dir:-x', /layout tag "-x"/],
  ])('rejects %j', (input, problem) => {
    expect(() => parseSourceReference(input)).toThrow(problem);
  });
});

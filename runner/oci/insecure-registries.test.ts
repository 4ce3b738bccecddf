import { describe, expect, it } from 'vitest';
import { answeredPlainHttp, insecureRegistriesFromEnv, isInsecureRegistry, parseInsecureRegistries, plainHttpAllowed, plainHttpRefused } from './insecure-registries.js';
import { registryScheme } from './registry-client.js';

function usageError(entry: string): { code: string; message: string } {
  try {
    parseInsecureRegistries([entry], '--insecure-registry');
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error(`${entry} was accepted`);
}

describe('parseInsecureRegistries', () => {
  it('keeps HOST and HOST:PORT entries, lower-cased, once each', () => {
    expect(parseInsecureRegistries(['kind-registry:5000', 'Registry.Local', ' 192.0.2.2:5000 ', '[fd00::2]:5000', 'kind-registry:5000', ''], 'x')).toEqual([
      'kind-registry:5000',
      'registry.local',
      '192.0.2.2:5000',
      '[fd00::2]:5000',
    ]);
  });

  it('refuses schemes, paths and bad ports with USAGE_INVALID naming where the entry came from', () => {
    expect(usageError('http://kind-registry:5000')).toMatchObject({ code: 'USAGE_INVALID', message: expect.stringContaining('without a scheme') });
    expect(usageError('kind-registry:5000/mcp')).toMatchObject({ code: 'USAGE_INVALID', message: expect.stringContaining('without a path') });
    expect(usageError('kind-registry:99999').message).toContain('--insecure-registry: "kind-registry:99999"');
    expect(usageError('-bad-').code).toBe('USAGE_INVALID');
  });

  it('reads MCPWARM_INSECURE_REGISTRIES as a comma- or space-separated list', () => {
    expect(insecureRegistriesFromEnv({ MCPWARM_INSECURE_REGISTRIES: 'kind-registry:5000, 10.0.0.5:5000 registry.local' })).toEqual(['kind-registry:5000', '10.0.0.5:5000', 'registry.local']);
    expect(insecureRegistriesFromEnv({})).toEqual([]);
    expect(() => insecureRegistriesFromEnv({ MCPWARM_INSECURE_REGISTRIES: 'https://x' })).toThrow(expect.objectContaining({ code: 'USAGE_INVALID', message: expect.stringContaining('MCPWARM_INSECURE_REGISTRIES') }));
  });
});

describe('the plain HTTP decision', () => {
  it('matches an entry with a port on that port only, and one without on every port of the host', () => {
    expect(isInsecureRegistry('kind-registry:5000', ['kind-registry:5000'])).toBe(true);
    expect(isInsecureRegistry('kind-registry:5001', ['kind-registry:5000'])).toBe(false);
    expect(isInsecureRegistry('kind-registry', ['kind-registry:5000'])).toBe(false);
    expect(isInsecureRegistry('Registry.Local:8443', ['registry.local'])).toBe(true);
    expect(isInsecureRegistry('registry.local.example.com', ['registry.local'])).toBe(false);
  });

  it('uses HTTP for loopback and named registries, HTTPS for every other, and refuses forced HTTP to those', () => {
    const policy = { insecureRegistries: ['kind-registry:5000'] };
    expect(registryScheme('127.0.0.1:5001', {})).toBe('http');
    expect(registryScheme('kind-registry:5000', policy)).toBe('http');
    expect(registryScheme('kind-registry:5001', policy)).toBe('https');
    expect(registryScheme('ghcr.io', policy)).toBe('https');
    expect(() => registryScheme('kind-registry:5001', { ...policy, scheme: 'http' })).toThrow(expect.objectContaining({ code: 'REGISTRY_INSECURE_REFUSED' }));
    expect(plainHttpAllowed('ghcr.io', { insecure: true })).toBe(true);
    expect(plainHttpAllowed('192.0.2.2:5000', {})).toBe(false);
  });

  it('tells a plain-HTTP answer to an HTTPS request from other connection failures', () => {
    expect(answeredPlainHttp(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ERR_SSL_WRONG_VERSION_NUMBER' } }))).toBe(true);
    expect(answeredPlainHttp(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }))).toBe(false);
    expect(answeredPlainHttp(new Error('boom'))).toBe(false);
    const refused = plainHttpRefused('192.0.2.2:5000', new URL('https://192.0.2.2:5000/v2/'), undefined);
    expect(refused.code).toBe('REGISTRY_INSECURE_REFUSED');
    expect(refused.message).toContain('does not fall back to HTTP');
    expect(refused.hint).toContain('--insecure-registry 192.0.2.2:5000');
  });
});

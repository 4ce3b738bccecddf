import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  basicAuthorization,
  credentialsFromDockerConfig,
  dockerConfigPath,
  loadDockerCredentials,
  parseAuthChallenges,
  parseTokenResponse,
  TokenCache,
  tokenRequest,
} from './auth.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('parseAuthChallenges', () => {
  it('reads a Bearer challenge with quoted values holding commas and escapes', () => {
    const header = 'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push",error="x\\"y"';
    expect(parseAuthChallenges(header)).toEqual([
      {
        scheme: 'bearer',
        params: { realm: 'https://auth.example.com/token', service: 'registry.example.com', scope: 'repository:a/b:pull,push', error: 'x"y' },
      },
    ]);
  });

  it('reads Basic, unquoted tokens, odd spacing and case', () => {
    expect(parseAuthChallenges('BASIC Realm = "Registry Realm" , charset=UTF-8')).toEqual([
      { scheme: 'basic', params: { realm: 'Registry Realm', charset: 'UTF-8' } },
    ]);
  });

  it('separates several challenges in one header', () => {
    const header = 'Basic realm="r", Bearer realm="https://t/token",service="s", Negotiate abc==';
    expect(parseAuthChallenges(header)).toEqual([
      { scheme: 'basic', params: { realm: 'r' } },
      { scheme: 'bearer', params: { realm: 'https://t/token', service: 's' } },
      { scheme: 'negotiate', params: { token68: 'abc==' } },
    ]);
  });

  it('gives nothing for an empty or garbage header', () => {
    expect(parseAuthChallenges('')).toEqual([]);
    expect(parseAuthChallenges('"unterminated')).toEqual([]);
    expect(parseAuthChallenges('Bearer')).toEqual([{ scheme: 'bearer', params: {} }]);
  });
});

describe('credentialsFromDockerConfig', () => {
  const config = {
    auths: {
      'localhost:5000': { auth: b64('alice:pa:ss') },
      'https://registry.example.com/v2/': { username: 'bob', password: 'secret' },
      'https://index.docker.io/v1/': { auth: b64('hubuser:hubpass') },
      'token.example.com': { auth: b64('<token>:'), identitytoken: 'refresh-me' },
      'empty.example.com': {},
    },
    credsStore: 'desktop',
  };

  it.each([
    ['localhost:5000', { username: 'alice', password: 'pa:ss' }],
    ['registry.example.com', { username: 'bob', password: 'secret' }],
    ['docker.io', { username: 'hubuser', password: 'hubpass' }],
    ['token.example.com', { username: '<token>', password: '', identityToken: 'refresh-me' }],
    ['empty.example.com', undefined],
    ['other.example.com', undefined],
    ['localhost:5001', undefined],
  ])('%s', (registry, expected) => {
    expect(credentialsFromDockerConfig(config, registry)).toEqual(expected);
  });

  it('prefers an exact key over a URL-shaped one for the same host', () => {
    const both = { auths: { 'https://r.io/v1/': { auth: b64('url:1') }, 'r.io': { auth: b64('exact:2') } } };
    expect(credentialsFromDockerConfig(both, 'r.io')).toEqual({ username: 'exact', password: '2' });
  });

  it('ignores credential helpers and configs without auths', () => {
    expect(credentialsFromDockerConfig({ credHelpers: { 'r.io': 'ecr-login' } }, 'r.io')).toBeUndefined();
  });

  it('rejects malformed configs with REGISTRY_AUTH_FAILED', () => {
    expect(() => credentialsFromDockerConfig([], 'r.io', '/x/config.json')).toThrow('Docker config /x/config.json: not a JSON object');
    expect(() => credentialsFromDockerConfig({ auths: 3 }, 'r.io')).toThrow(/"auths" is not an object/);
    expect(() => credentialsFromDockerConfig({ auths: { 'r.io': { auth: b64('nocolon') } } }, 'r.io')).toThrow(/not base64 of user:password/);
  });
});

describe('loadDockerCredentials', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcpwarm-auth-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads config.json, and treats a missing file as no credentials', async () => {
    const path = join(dir, 'config.json');
    await writeFile(path, JSON.stringify({ auths: { 'r.io': { auth: b64('u:p') } } }));
    expect(await loadDockerCredentials('r.io', path)).toEqual({ username: 'u', password: 'p' });
    expect(await loadDockerCredentials('r.io', join(dir, 'missing.json'))).toBeUndefined();
  });

  it('names the file when it is not JSON', async () => {
    const path = join(dir, 'broken.json');
    await writeFile(path, '{"auths":');
    await expect(loadDockerCredentials('r.io', path)).rejects.toMatchObject({ code: 'REGISTRY_AUTH_FAILED', message: expect.stringContaining(path) });
  });

  it('finds config.json through DOCKER_CONFIG or the home directory', () => {
    expect(dockerConfigPath({ DOCKER_CONFIG: '/etc/docker-cfg' })).toBe('/etc/docker-cfg/config.json');
    expect(dockerConfigPath({})).toMatch(/\/\.docker\/config\.json$/);
  });
});

describe('token requests', () => {
  const challenge = { scheme: 'bearer', params: { realm: 'https://auth.example.com/token?x=1', service: 'reg' } };

  it('asks anonymously with a GET', () => {
    const { url, init } = tokenRequest(challenge, 'repository:a:pull', undefined);
    expect(url.href).toBe('https://auth.example.com/token?x=1&service=reg&scope=repository%3Aa%3Apull');
    expect(init).toEqual({ method: 'GET' });
  });

  it('sends Basic credentials and the account with a GET', () => {
    const { url, init } = tokenRequest(challenge, 'repository:a:pull,push', { username: 'u', password: 'p' });
    expect(url.searchParams.get('account')).toBe('u');
    expect(url.searchParams.get('scope')).toBe('repository:a:pull,push');
    expect(init.headers).toEqual({ authorization: basicAuthorization({ username: 'u', password: 'p' }) });
    expect(basicAuthorization({ username: 'u', password: 'p' })).toBe(`Basic ${b64('u:p')}`);
  });

  it('exchanges an identity token with the OAuth2 POST form', () => {
    const { url, init } = tokenRequest(challenge, 'repository:a:pull', { username: '<token>', identityToken: 'rt' });
    expect(url.href).toBe('https://auth.example.com/token?x=1');
    expect(init.method).toBe('POST');
    expect(Object.fromEntries(new URLSearchParams(String(init.body)))).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'rt',
      client_id: 'mcpwarm',
      scope: 'repository:a:pull',
      service: 'reg',
    });
  });

  it('reads token or access_token with expires_in, at least and by default 60 s', () => {
    expect(parseTokenResponse({ token: 't', expires_in: 300 }, 1_000_000)).toEqual({ token: 't', expiresAt: 1_000_000 + 295_000 });
    expect(parseTokenResponse({ access_token: 'a' }, 0)).toEqual({ token: 'a', expiresAt: 55_000 });
    expect(parseTokenResponse({ token: 't', expires_in: 5 }, 0)).toEqual({ token: 't', expiresAt: 55_000 });
    expect(() => parseTokenResponse({ expires_in: 5 }, 0)).toThrow(/without a "token"/);
  });

  it('caches tokens per scope until they expire', () => {
    const cache = new TokenCache();
    cache.set('repository:a:pull', 't1', 1_000);
    expect(cache.get('repository:a:pull', 999)).toBe('t1');
    expect(cache.get('repository:a:pull,push', 999)).toBeUndefined();
    expect(cache.get('repository:a:pull', 1_000)).toBeUndefined();
  });
});

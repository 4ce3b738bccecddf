/**
 * Bearer-token auth against a real distribution registry configured with `auth: token`, whose
 * realm is a test token server signing JWTs with a key and self-signed certificate made by openssl.
 */
import { mkdir, mkdtemp, readFile, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startLocalRegistry, type LocalRegistry } from '../harness/cluster/local-registry.js';
import { findExecutable, run } from '../runner/exec.js';
import { parseReference } from '../runner/oci/reference.js';
import { RegistryClient } from '../runner/oci/registry-client.js';
import { startTokenAuthServer, type TokenAuthServer } from './support/token-auth-server.js';
import { pushTestImage, readAll, testImage } from './support/test-images.js';
import { caught } from './support/caught.js';

const SERVICE = 'mcpwarm-test-registry';
const ISSUER = 'mcpwarm-test-token-issuer';
const USER = 'alice';
const PASSWORD = 'correct horse:battery';
const REFRESH_TOKEN = 'refresh-token-for-alice';

const tools = { openssl: findExecutable('openssl'), registry: findExecutable('docker-registry') };
const missingTools = Object.entries(tools).flatMap(([name, path]) => (path === undefined ? [name] : []));
const required = process.env.CI === 'true';

describe.skipIf(missingTools.length > 0 && !required)('bearer token auth with a real registry', () => {
  let dir: string;
  let tokenServer: TokenAuthServer;
  let registry: LocalRegistry;
  const configs = { none: '', basic: '', wrong: '', identity: '' };

  const client = (reference: string, config: keyof typeof configs) =>
    new RegistryClient(parseReference(`${registry.address}/${reference}`), { dockerConfigPath: configs[config], retry: { attempts: 2, baseDelayMs: 5 } });

  beforeAll(async () => {
    if (missingTools.length > 0) throw new Error(`CI=true and not installed: ${missingTools.join(', ')}`);
    dir = await mkdtemp(join(tmpdir(), 'mcpwarm-registry-auth-'));
    const keyPath = join(dir, 'token.key');
    const certPath = join(dir, 'token.crt');
    await run(tools.openssl as string, [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${ISSUER}`, '-keyout', keyPath, '-out', certPath,
    ]);
    tokenServer = await startTokenAuthServer({
      issuer: ISSUER,
      service: SERVICE,
      privateKeyPem: await readFile(keyPath, 'utf8'),
      certificatePem: await readFile(certPath, 'utf8'),
      users: { [USER]: PASSWORD },
      refreshTokens: { [REFRESH_TOKEN]: USER },
      publicRepositories: ['public/app'],
    });
    registry = await startLocalRegistry({
      dir: join(dir, 'registry'),
      port: 0,
      extraConfig: { auth: { token: { realm: tokenServer.realm, service: SERVICE, issuer: ISSUER, rootcertbundle: certPath } } },
    });
    const auth = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString('base64');
    const write = async (name: string, config: unknown) => {
      await mkdir(join(dir, name));
      const path = join(dir, name, 'config.json');
      await writeFile(path, JSON.stringify(config));
      return path;
    };
    configs.none = join(dir, 'no-config', 'config.json');
    configs.basic = await write('basic', { auths: { [registry.address]: { auth: auth(USER, PASSWORD) } } });
    configs.wrong = await write('wrong', { auths: { [`http://${registry.address}`]: { username: USER, password: 'nope' } } });
    configs.identity = await write('identity', { auths: { [registry.address]: { auth: auth('<token>', ''), identitytoken: REFRESH_TOKEN } } });
  });

  afterAll(async () => {
    await registry?.stop();
    await tokenServer?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    tokenServer.grants.length = 0;
  });

  it('pushes with credentials from config.json, asking for a pull,push token', async () => {
    const image = testImage({ payload: Buffer.from('private') });
    expect(await pushTestImage(client('private/app', 'basic'), image, 'v1')).toBe(image.manifest.descriptor.digest);
    expect(tokenServer.grants).toContainEqual({ method: 'GET', account: USER, scopes: ['repository:private/app:pull,push'] });
  });

  it('refuses an anonymous pull of a private repository with REGISTRY_AUTH_FAILED', async () => {
    const error = await caught(client('private/app:v1', 'none').getManifest());
    expect(error.code).toBe('REGISTRY_AUTH_FAILED');
    expect(error.message).toMatch(/refused GET http:\/\/.*\/v2\/private\/app\/manifests\/v1 with Bearer authorization/);
    expect(tokenServer.grants).toEqual([{ method: 'GET', account: undefined, scopes: ['repository:private/app:pull'] }]);
  });

  it('refuses wrong credentials at the token server with REGISTRY_AUTH_FAILED naming the config', async () => {
    const error = await caught(client('private/app:v1', 'wrong').getManifest());
    expect(error.code).toBe('REGISTRY_AUTH_FAILED');
    expect(error.message).toContain(configs.wrong);
    expect(tokenServer.grants).toEqual([]);
  });

  it('pulls with credentials from config.json, reusing the cached token', async () => {
    const image = testImage({ payload: Buffer.from('pull me') });
    await pushTestImage(client('private/pull', 'basic'), image, 'v1');
    tokenServer.grants.length = 0;
    const puller = client('private/pull:v1', 'basic');
    const fetched = await puller.getManifest();
    expect(fetched.digest).toBe(image.manifest.descriptor.digest);
    expect(await readAll(await puller.openBlob(image.layers[0]!.descriptor))).toEqual(image.layers[0]!.data);
    expect(await readAll(await puller.openBlob(image.config.descriptor))).toEqual(image.config.data);
    expect(tokenServer.grants).toEqual([{ method: 'GET', account: USER, scopes: ['repository:private/pull:pull'] }]);
  });

  it('exchanges an identity token through the OAuth2 POST form', async () => {
    const image = testImage({ payload: Buffer.from('identity') });
    await pushTestImage(client('private/identity', 'identity'), image, 'v1');
    expect((await client('private/identity:v1', 'identity').getManifest()).digest).toBe(image.manifest.descriptor.digest);
    expect(tokenServer.grants.map((grant) => grant.method)).toEqual(['POST', 'POST', 'POST']);
    expect(tokenServer.grants.every((grant) => grant.account === USER)).toBe(true);
  });

  it('pulls a public repository anonymously', async () => {
    const image = testImage({ payload: Buffer.from('public') });
    await pushTestImage(client('public/app', 'basic'), image, 'v1');
    expect((await client('public/app:v1', 'none').getManifest()).digest).toBe(image.manifest.descriptor.digest);
  });
});

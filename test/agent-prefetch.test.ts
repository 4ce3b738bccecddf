/**
 * `POST /images` on a real agent against a real registry: the fixture image pulled and unpacked
 * into the cache without activating it (not cached, then cached, then activated from the cache);
 * bad images answered with coded errors and nothing of them cached; and a prefetch and an
 * activation of the same image at the same time sharing one pull (counted at a proxy in front of
 * the registry, behind a link slow enough that the second request arrives during the first pull).
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startShapingProxy, type ShapingProxy } from '../harness/cluster/shaping-proxy.js';
import { startAgent, type RunningAgent } from '../runner/agent/agent.js';
import type { InstanceInfo } from '../runner/agent/instance.js';
import type { PrefetchAnswer } from '../runner/agent/prefetch.js';
import { digestHex } from '../runner/oci/digest.js';
import { parseReference } from '../runner/oci/reference.js';
import { RegistryClient } from '../runner/oci/registry-client.js';
import { descendantProcesses, imageFixture, type ImageFixture } from './support/agent-fixture.js';
import { startFaultInjectingProxy, type FaultInjectingProxy } from './support/fault-injecting-proxy.js';
import { callApi, type Answer } from './support/http-api.js';
import { file, layeredTestImage } from './support/layered-image.js';
import { pushTestImage } from './support/test-images.js';

const TOKEN = 'prefetch-test-token-0123';
let images: ImageFixture;
let agent: RunningAgent;
let cacheDir: string;
let auditLog: string;
/** The registry behind a slow link (200 ms round trips), with every request logged in front of it. */
let slowLink: ShapingProxy;
let counting: FaultInjectingProxy;

function call(method: string, path: string, body?: unknown, token: string | null = TOKEN): Promise<Answer> {
  return callApi(agent.url, token, method, path, body);
}

async function prefetch(image: string): Promise<PrefetchAnswer> {
  const answer = await call('POST', '/images', { image });
  expect(answer.status, answer.text).toBe(200);
  return answer.json as PrefetchAnswer;
}

/** What the cache holds: blobs (manifests, configs) and layer snapshots by digest hex, and its scratch. */
async function cacheContents(): Promise<{ blobs: string[]; snapshots: string[]; tmp: string[] }> {
  const list = async (path: string) => (await readdir(join(cacheDir, path)).catch(() => [] as string[])).sort();
  return { blobs: await list('blobs/sha256'), snapshots: await list('snapshots'), tmp: await list('tmp') };
}

async function emptyCache(): Promise<void> {
  expect((await call('POST', '/cache/prune')).status).toBe(200);
  expect(await cacheContents()).toEqual({ blobs: [], snapshots: [], tmp: [] });
}

beforeAll(async () => {
  images = await imageFixture('mcpwarm-agent-prefetch-');
  cacheDir = join(images.work, 'cache');
  auditLog = join(images.work, 'audit.log');
  slowLink = await startShapingProxy({ upstream: { host: '127.0.0.1', port: images.registry.port }, rttMs: 200, maxQueueBytes: 64 * 2 ** 20 });
  counting = await startFaultInjectingProxy(`http://127.0.0.1:${slowLink.port}`);
  agent = await startAgent({
    host: '127.0.0.1',
    port: 0,
    cacheDir,
    sandbox: 'auto',
    token: TOKEN,
    allow: [`${images.registry.address}/mcp/*`, `${counting.address}/mcp/*`, '127.0.0.1:1/**'],
    auditLogPath: auditLog,
    stopGraceMs: 1000,
  });
}, 120_000);

afterAll(async () => {
  await agent?.close();
  await counting?.stop();
  await slowLink?.close();
  await images?.close();
});

describe('POST /images', () => {
  it('pulls an image into the cache without activating it, then finds it cached, and an activation of it misses no layer', async () => {
    await emptyCache();
    const first = await prefetch(images.fixture);
    expect(first).toMatchObject({ image: images.fixture, digest: expect.stringMatching(/^sha256:[a-f0-9]{64}$/), cached: false, cache: { layersHit: 0 } });
    expect(first.cache.layersMissed).toBeGreaterThan(0);
    expect(first.phases.totalMs).toBeGreaterThan(0);
    expect(first.phases.totalMs).toBeCloseTo(first.phases.resolveMs + first.phases.pullMs + first.phases.unpackMs, 6);
    // Nothing ran: no instance, no server process.
    expect((await call('GET', '/instances')).json.instances).toEqual([]);
    expect(await descendantProcesses()).toEqual([]);
    const stored = await cacheContents();
    expect(stored.snapshots).toHaveLength(first.cache.layersMissed);

    const second = await prefetch(images.fixture);
    expect(second).toMatchObject({ digest: first.digest, cached: true, cache: { layersHit: first.cache.layersMissed, layersMissed: 0 } });
    expect(await cacheContents()).toEqual(stored);

    const activated = await call('POST', '/activate', { image: images.fixture });
    expect(activated.status, activated.text).toBe(201);
    const info = activated.json as InstanceInfo;
    expect(info.image.digest).toBe(first.digest);
    expect(info.cache).toEqual({ layersHit: first.cache.layersMissed, layersMissed: 0 });
    expect((await call('DELETE', `/instances/${info.instanceId}`)).status).toBe(200);

    const audit = (await readFile(auditLog, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(audit.filter((l) => l.action === 'prefetch' && l.result === 'ok' && l.digest === first.digest)).toHaveLength(2);
  });

  it.each([
    ['an image the registry does not have', { image: 'REGISTRY/mcp/missing:1' }, 404, 'IMAGE_NOT_FOUND'],
    ['a registry that is down', { image: '127.0.0.1:1/mcp/fixture:1' }, 502, 'REGISTRY_UNREACHABLE'],
    ['an image off the allowlist', { image: 'REGISTRY/other/fixture:1' }, 403, 'IMAGE_NOT_ALLOWED'],
    ['an invalid reference', { image: 'Bad//Ref' }, 400, 'REF_INVALID'],
    ['an activation field', { image: 'REGISTRY/mcp/fixture:1', env: { A: 'b' } }, 400, 'REQUEST_INVALID'],
  ])('%s: %s %s, nothing cached', async (_name, body, status, code) => {
    await emptyCache();
    const payload = JSON.parse(JSON.stringify(body).replace('REGISTRY', images.registry.address));
    const answer = await call('POST', '/images', payload);
    expect(answer.status, answer.text).toBe(status);
    expect(answer.json.error).toMatchObject({ code, message: expect.any(String), hint: expect.any(String) });
    expect(await cacheContents()).toEqual({ blobs: [], snapshots: [], tmp: [] });
  });

  it('needs the token', async () => {
    const answer = await call('POST', '/images', { image: images.fixture }, null);
    expect(answer.status).toBe(401);
    expect(answer.json.error.code).toBe('AUTH_REQUIRED');
  });

  it('refuses a layer whose bytes do not match its digest and keeps nothing of it', async () => {
    await emptyCache();
    const image = layeredTestImage([[file('data', 'the layer the registry will corrupt')]]);
    const reference = `${images.registry.address}/mcp/corrupt:1`;
    await pushTestImage(new RegistryClient(parseReference(reference)), image, '1');
    const layer = image.layers[0]!.descriptor;
    const hex = digestHex(layer.digest);
    // Corrupted in the registry's own storage, its size kept.
    const stored = join(images.registry.dir, 'data/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const bytes = await readFile(stored);
    bytes[bytes.length - 5]! ^= 0xff;
    await writeFile(stored, bytes);

    const answer = await call('POST', '/images', { image: reference });
    expect(answer.status, answer.text).toBe(502);
    expect(answer.json.error.code).toBe('BLOB_DIGEST_MISMATCH');
    const left = await cacheContents();
    expect(left.snapshots).not.toContain(hex);
    expect(left.blobs).not.toContain(hex);
    expect(left.tmp).toEqual([]);
    expect(existsSync(join(cacheDir, 'snapshots', hex))).toBe(false);
  });

  it('shares one pull between a prefetch and an activation of the same image at the same time', async () => {
    await emptyCache();
    counting.reset();
    const image = `${counting.address}/mcp/fixture:1`;
    const prefetching = call('POST', '/images', { image });
    // The prefetch is downloading; the activation comes while it does.
    const deadline = Date.now() + 30_000;
    while (!counting.requests.some((r) => r.method === 'GET' && r.path.includes('/blobs/'))) {
      if (Date.now() > deadline) throw new Error('the prefetch never asked for a blob');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const activating = call('POST', '/activate', { image });
    const [prefetched, activated] = await Promise.all([prefetching, activating]);
    expect(prefetched.status, prefetched.text).toBe(200);
    expect(activated.status, activated.text).toBe(201);
    const answer = prefetched.json as PrefetchAnswer;
    const info = activated.json as InstanceInfo;
    expect(info.image.digest).toBe(answer.digest);
    // Neither found the image cached: they made it so together.
    expect(answer.cached).toBe(false);
    expect(info.cache).toEqual(answer.cache);
    // The activation waited for only part of the pull.
    expect(info.phases.resolveMs).toBe(0);
    expect(info.phases.pullMs + info.phases.unpackMs).toBeLessThan(answer.phases.totalMs);

    const gets = counting.requests.filter((r) => r.method === 'GET');
    expect(gets.filter((r) => r.path === '/v2/mcp/fixture/manifests/1')).toHaveLength(1);
    const blobGets = gets.filter((r) => r.path.includes('/blobs/'));
    expect(blobGets.length).toBe(answer.cache.layersMissed + 1);
    expect(new Set(blobGets.map((r) => r.path)).size).toBe(blobGets.length);
    expect((await call('DELETE', `/instances/${info.instanceId}`)).status).toBe(200);
  });
});

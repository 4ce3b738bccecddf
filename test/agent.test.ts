/**
 * The runner agent end to end: a real registry, real sandboxes, the fixture MCP server activated
 * and then used through /instances/ID/mcp with the official SDK client; access control; every
 * kind of bad input answered with a coded error and nothing left behind (checked in /proc and the
 * mount table); 50 parallel activations.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../runner/agent/agent.js';
import type { InstanceInfo } from '../runner/agent/instance.js';
import { mountsUnder } from '../runner/mounts.js';
import { descendantProcesses, imageFixture, type ImageFixture } from './support/agent-fixture.js';
import { runCli } from './support/cli.js';
import { callApi, type Answer } from './support/http-api.js';

const TOKEN = 'test-token-0123456789';
let images: ImageFixture;
let agent: RunningAgent;
let cacheDir: string;
let auditLog: string;

function call(method: string, path: string, body?: unknown, token: string | null = TOKEN): Promise<Answer> {
  return callApi(agent.url, token, method, path, body);
}

async function activateFixture(extra: Record<string, unknown> = {}): Promise<InstanceInfo> {
  const answer = await call('POST', '/activate', { image: images.fixture, ...extra });
  expect(answer.status, answer.text).toBe(201);
  return answer.json as InstanceInfo;
}

async function connectClient(info: InstanceInfo): Promise<Client> {
  const client = new Client({ name: 'agent-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(info.endpoint, agent.url), {
    requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
  });
  await client.connect(transport);
  return client;
}

/** Nothing of any instance is left: no server process, no mount, no instance directory. */
async function expectNothingLeft(): Promise<void> {
  expect(await descendantProcesses()).toEqual([]);
  expect(mountsUnder(join(cacheDir, 'instances'))).toEqual([]);
  expect(await readdir(join(cacheDir, 'instances'))).toEqual([]);
  expect(await readdir(join(cacheDir, 'tmp'))).toEqual([]);
}

beforeAll(async () => {
  images = await imageFixture('mcpwarm-agent-');
  cacheDir = join(images.work, 'cache');
  auditLog = join(images.work, 'audit.log');
  agent = await startAgent({
    host: '127.0.0.1',
    port: 0,
    cacheDir,
    sandbox: 'auto',
    token: TOKEN,
    allow: [`${images.registry.address}/mcp/*`, '127.0.0.1:1/**'],
    auditLogPath: auditLog,
    stopGraceMs: 1000,
  });
}, 120_000);

afterAll(async () => {
  await agent?.close();
  await images?.close();
});

describe('health, readiness, metrics', () => {
  it('answers without a token', async () => {
    expect((await call('GET', '/health', undefined, undefined)).json).toEqual({ status: 'ok' });
    const ready = await call('GET', '/ready', undefined, null);
    expect(ready.status).toBe(200);
    expect(ready.json).toMatchObject({ ready: true, cacheWritable: true, sandbox: agent.sandbox });
    const metrics = await call('GET', '/metrics', undefined, null);
    for (const name of ['mcp_warmpool_activation_duration_seconds', 'mcp_warmpool_activation_errors_total', 'mcp_warmpool_image_pull_duration_seconds', 'mcp_warmpool_live_instances']) {
      expect(metrics.text).toContain(name);
    }
  });

  it('picks the strongest sandbox available', () => {
    expect(agent.sandbox).toBe('runc');
  });
});

describe('access control', () => {
  it.each([null, 'wrong-token'])('answers 401 to token %j', async (token) => {
    const answer = await call('POST', '/activate', { image: images.fixture }, token);
    expect(answer.status).toBe(401);
    expect(answer.json.error.code).toBe('AUTH_REQUIRED');
    expect((await call('GET', '/instances', undefined, token)).status).toBe(401);
  });

  it('refuses an image off the allowlist before any network call, with 403', async () => {
    const answer = await call('POST', '/activate', { image: `${images.registry.address}/other/image:1` });
    expect(answer.status).toBe(403);
    expect(answer.json.error.code).toBe('IMAGE_NOT_ALLOWED');
  });

  it('refuses to start without a token unless insecure on loopback', async () => {
    const refused = await runCli(['agent', '--port', '0', '--cache', join(images.work, 'cli-cache')], { MCPWARM_TOKEN: '' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('AUTH_MISCONFIGURED');
    const remote = await runCli(['agent', '--port', '0', '--host', '0.0.0.0', '--insecure-no-auth', '--cache', join(images.work, 'cli-cache')], { MCPWARM_TOKEN: '' });
    expect(remote.code).toBe(2);
  });
});

describe('activation', () => {
  it('activates the fixture image, serves MCP through the agent, and tears it all down on DELETE', async () => {
    const info = await activateFixture({ env: { FIXTURE_STDERR_BYTES: '300' }, readiness: { toolsList: true } });
    expect(info).toMatchObject({ sandbox: 'runc', endpoint: `/instances/${info.instanceId}/mcp`, protocolVersion: '2025-11-25' });
    expect(info.image.digest).toMatch(/^sha256:/);
    for (const phase of ['resolveMs', 'pullMs', 'unpackMs', 'mountMs', 'startMs', 'initializeMs', 'totalMs'] as const) {
      expect(info.phases[phase]).toBeGreaterThanOrEqual(0);
    }
    expect(info.phases.totalMs).toBeGreaterThanOrEqual(info.phases.initializeMs);
    expect(existsSync(`/proc/${info.pid}`)).toBe(true);
    // The server runs as the image's user.
    expect(await readFile(`/proc/${info.pid}/status`, 'utf8')).toMatch(/^Uid:\s+1000\s/m);

    const client = await connectClient(info);
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('echo');
    const echoed = await client.callTool({ name: 'echo', arguments: { text: 'through the agent' } });
    expect(JSON.stringify(echoed.content)).toContain('through the agent');
    const progress: number[] = [];
    await client.callTool({ name: 'progress', arguments: { steps: 3, intervalMs: 10 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
    expect(progress).toEqual([1, 2, 3]);
    await client.close();

    const listed = await call('GET', '/instances');
    expect(listed.json.instances.map((i: InstanceInfo) => i.instanceId)).toContain(info.instanceId);
    expect((await call('GET', `/instances/${info.instanceId}`)).json.state).toBe('running');
    expect((await call('GET', `/instances/${info.instanceId}/logs`)).text.length).toBeGreaterThanOrEqual(300);

    const deleted = await call('DELETE', `/instances/${info.instanceId}`);
    expect(deleted.status).toBe(200);
    expect(existsSync(`/proc/${info.pid}`)).toBe(false);
    expect((await call('GET', `/instances/${info.instanceId}`)).status).toBe(404);
    await expectNothingLeft();
  });

  it('hits the cache on the second activation of an image', async () => {
    const first = await activateFixture();
    const second = await activateFixture();
    expect(second.cache.layersMissed).toBe(0);
    expect(second.cache.layersHit).toBe(first.cache.layersHit + first.cache.layersMissed);
    await call('DELETE', `/instances/${first.instanceId}`);
    await call('DELETE', `/instances/${second.instanceId}`);
    await expectNothingLeft();
  });

  it('prunes the cache on request, sparing what live instances use', async () => {
    const live = await activateFixture();
    expect((await call('POST', '/cache/prune')).status).toBe(200);
    const whileLive = await activateFixture();
    expect(whileLive.cache.layersMissed).toBe(0);
    await call('DELETE', `/instances/${live.instanceId}`);
    await call('DELETE', `/instances/${whileLive.instanceId}`);
    const pruned = await call('POST', '/cache/prune');
    expect(pruned.json.evicted).toBeGreaterThan(0);
    const after = await activateFixture();
    expect(after.cache.layersHit).toBe(0);
    await call('DELETE', `/instances/${after.instanceId}`);
    await expectNothingLeft();
  });

  it('honours entrypoint and command overrides', async () => {
    const info = await activateFixture({ entrypoint: ['node'], command: ['/app/server.mjs'] });
    expect(info.serverInfo).toBeTruthy();
    await call('DELETE', `/instances/${info.instanceId}`);
    await expectNothingLeft();
  });

  it('is reachable from the activate command', async () => {
    const result = await runCli(['activate', images.fixture, '--agent', agent.url, '--json'], { MCPWARM_TOKEN: TOKEN });
    expect(result.code, result.stderr).toBe(0);
    const info = result.json as InstanceInfo;
    expect(result.stderr).toContain('ready in');
    await call('DELETE', `/instances/${info.instanceId}`);
    const refused = await runCli(['activate', `${images.registry.address}/other/x:1`, '--agent', agent.url, '--json'], { MCPWARM_TOKEN: TOKEN });
    expect(refused.code).toBe(2);
    expect(refused.json).toMatchObject({ error: { code: 'IMAGE_NOT_ALLOWED' } });
    await expectNothingLeft();
  });

  it('takes down an instance whose server exits on its own', async () => {
    const info = await activateFixture();
    const client = await connectClient(info);
    await client.callTool({ name: 'crash', arguments: { code: 3 } }).catch(() => undefined);
    await client.close().catch(() => undefined);
    for (let i = 0; i < 100 && (await call('GET', `/instances/${info.instanceId}`)).status !== 404; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await call('GET', `/instances/${info.instanceId}`)).status).toBe(404);
    await expectNothingLeft();
  });
});

describe('bad input', () => {
  it.each([
    ['malformed JSON', '{"image": ', 400, 'REQUEST_INVALID'],
    ['an unknown field', { image: 'x', surprise: 1 }, 400, 'REQUEST_INVALID'],
    ['an invalid reference', { image: 'Bad//Ref' }, 400, 'REF_INVALID'],
    ['an image the registry does not have', { image: 'REGISTRY/mcp/missing:1' }, 404, 'IMAGE_NOT_FOUND'],
    ['a registry that is down', { image: '127.0.0.1:1/mcp/fixture:1' }, 502, 'REGISTRY_UNREACHABLE'],
    ['a server that exits at once', { image: 'FIXTURE', env: { FIXTURE_EXIT_AT_START: '7' } }, 502, 'SERVER_EXITED'],
    ['a server that never initializes', { image: 'FIXTURE', env: { FIXTURE_NEVER_INITIALIZE: '1' }, readiness: { timeoutMs: 500 } }, 504, 'SERVER_INIT_TIMEOUT'],
    ['a server that writes garbage', { image: 'FIXTURE', env: { FIXTURE_GARBAGE_STDOUT: '1' } }, 502, 'SERVER_PROTOCOL'],
    ['an override naming a missing binary', { image: 'FIXTURE', entrypoint: ['/usr/bin/nonexistent'] }, 422, 'ENTRYPOINT_NOT_FOUND'],
  ])('%s: %s %s, nothing left behind', async (_name, body, status, code) => {
    const payload =
      typeof body === 'string'
        ? body
        : JSON.parse(JSON.stringify(body).replace('REGISTRY', images.registry.address).replace('"FIXTURE"', JSON.stringify(images.fixture)));
    const answer = await call('POST', '/activate', payload);
    expect(answer.status, answer.text).toBe(status);
    expect(answer.json.error).toMatchObject({ code, message: expect.any(String), hint: expect.any(String) });
    if (code === 'SERVER_EXITED') expect(answer.json.error.message).toMatch(/exit|code 7/i);
    await expectNothingLeft();
  });

  it('limits request bodies', async () => {
    const answer = await call('POST', '/activate', { image: 'x'.repeat(300 * 1024) });
    expect(answer.status).toBe(413);
    expect(answer.json.error.code).toBe('REQUEST_TOO_LARGE');
  });

  it('answers 404 for an unknown instance and route', async () => {
    expect((await call('GET', '/instances/nope')).json.error.code).toBe('INSTANCE_NOT_FOUND');
    expect((await call('GET', '/nowhere')).json.error.code).toBe('ROUTE_NOT_FOUND');
  });
});

describe('under load', () => {
  it('50 parallel activations all succeed or fail cleanly, and nothing leaks', async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, () => call('POST', '/activate', { image: images.fixture })));
    const succeeded = answers.filter((a) => a.status === 201).map((a) => a.json as InstanceInfo);
    for (const failed of answers.filter((a) => a.status !== 201)) expect(failed.json.error.code).toEqual(expect.any(String));
    expect(succeeded.length).toBeGreaterThan(40);
    expect(new Set(succeeded.map((i) => i.instanceId)).size).toBe(succeeded.length);
    expect(new Set(succeeded.map((i) => i.pid)).size).toBe(succeeded.length);
    await Promise.all(succeeded.map((info) => call('DELETE', `/instances/${info.instanceId}`)));
    await expectNothingLeft();
  }, 180_000);
});

describe('audit log', () => {
  it('has one JSON line per activation, deletion and refusal', async () => {
    const lines = (await readFile(auditLog, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.some((l) => l.action === 'activate' && l.result === 'ok' && typeof l.digest === 'string')).toBe(true);
    expect(lines.some((l) => l.action === 'delete')).toBe(true);
    expect(lines.some((l) => l.action === 'refuse' && l.code === 'IMAGE_NOT_ALLOWED')).toBe(true);
    expect(lines.some((l) => l.action === 'refuse' && l.code === 'AUTH_REQUIRED')).toBe(true);
  });
});

/**
 * The pool controller on the process substrate: a warm pool of real runner agents, activations
 * claimed from it and used through the controller's MCP relay, single-use replacement, and the
 * claim race: 200 concurrent activations against a pool of 20 with zero double assignments,
 * checked on the runners themselves.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activation } from '../runner/controller/controller.js';
import { runnerToken } from '../runner/controller/runner-token.js';
import type { Runner } from '../runner/substrates/types.js';
import { imageFixture, type ImageFixture } from './support/agent-fixture.js';
import { runCli } from './support/cli.js';
import { CONTROLLER_TOKEN, callController, startInProcessController, until, untilPool, type InProcessController } from './support/controller-harness.js';

let images: ImageFixture;

/** A pool of `size` on the process substrate, with the fixture as a named server (and, with `hot`, kept hot). */
function startPool(
  name: string,
  size: number,
  options: { maxWaitMs?: number; coldFallback?: boolean; hot?: boolean; leaseMs?: number } = {},
): Promise<InProcessController> {
  return startInProcessController(images, name, {
    size,
    // The claim race queues up to 180 activations: none is refused for a full queue.
    pool: { maxWaitMs: options.maxWaitMs ?? 1000, maxQueue: 1000, coldFallback: options.coldFallback ?? false },
    controller: {
      leaseMs: options.leaseMs ?? 600_000,
      servers: [{ name: 'fixture', image: images.fixture }],
      ...(options.hot ? { hot: [{ image: images.fixture, min: 1, max: 1 }] } : {}),
    },
  });
}

beforeAll(async () => {
  images = await imageFixture('mcpwarm-controller-');
}, 120_000);

afterAll(async () => {
  await images?.close();
});

describe('a small pool', () => {
  let harness: InProcessController;

  beforeAll(async () => {
    // A claim waits for a refill rather than failing while the machine is slow to replace a used runner.
    harness = await startPool('small', 2, { hot: true, maxWaitMs: 30_000 });
    await until(async () => (await callController(harness.url, 'GET', '/ready')).status === 200, 60_000, 'the warm target');
    await untilPool(harness.url, (pool) => pool.hot[0].ready === 1, 60_000, 'a hot instance');
  }, 120_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('serves a plain request from the hot tier at once, and refills it', async () => {
    const claimedBefore = (await harness.substrate.listRunners()).filter((r) => r.state === 'claimed').map((r) => r.id);
    const answer = await callController(harness.url, 'POST', '/activations', { image: images.fixture });
    expect(answer.status, JSON.stringify(answer.json)).toBe(201);
    const activation = answer.json as Activation;
    expect(activation.tier).toBe('hot');
    // Served by the instance made before the request: its runner was already claimed, and no claim waited.
    expect(claimedBefore).toContain(activation.runner);
    expect(activation.phases).toMatchObject({ queueMs: 0, claimMs: activation.phases.totalMs });
    const client = new Client({ name: 'controller-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(activation.endpoint, harness.url), { requestInit: { headers: { authorization: `Bearer ${CONTROLLER_TOKEN}` } } }),
    );
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await client.close();
    await untilPool(harness.url, (pool) => pool.hot[0].ready === 1, 60_000, 'the hot refill');
    expect((await callController(harness.url, 'DELETE', `/activations/${activation.activationId}`)).status).toBe(200);
  }, 120_000);

  it('activates from the warm tier, serves MCP through the controller, and replaces the runner afterwards', async () => {
    // With an override, the request cannot be served by a pre-made instance.
    const answer = await callController(harness.url, 'POST', '/activations', { image: images.fixture, env: { FROM: 'warm' } });
    expect(answer.status, JSON.stringify(answer.json)).toBe(201);
    const activation = answer.json as Activation;
    expect(activation).toMatchObject({ tier: 'warm', endpoint: `/activations/${activation.activationId}/mcp` });
    expect(activation.phases.claimMs).toBeGreaterThanOrEqual(0);

    const client = new Client({ name: 'controller-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(activation.endpoint, harness.url), { requestInit: { headers: { authorization: `Bearer ${CONTROLLER_TOKEN}` } } }),
    );
    const echoed = await client.callTool({ name: 'echo', arguments: { text: 'via the controller' } });
    expect(JSON.stringify(echoed.content)).toContain('via the controller');
    await client.close();

    expect((await callController(harness.url, 'DELETE', `/activations/${activation.activationId}`)).status).toBe(200);
    // Single use: the runner is destroyed and the pool refilled with a new one.
    await until(async () => !(await harness.substrate.listRunners()).some((r) => r.id === activation.runner), 30_000, 'the used runner to go');
    await untilPool(harness.url, (pool) => pool.available >= 2, 60_000, 'the refill');
  }, 120_000);

  it('manages a named server: start, scale, stop, idempotently, over HTTP and the CLI', async () => {
    const url = harness.url;
    expect((await callController(url, 'GET', '/servers')).json.servers).toMatchObject([{ name: 'fixture', status: 'stopped', replicas: 0 }]);
    const started = await callController(url, 'POST', '/servers/fixture/start');
    expect(started.status, JSON.stringify(started.json)).toBe(200);
    expect(started.json).toMatchObject({ status: 'running', replicas: 1, readyReplicas: 1 });
    expect((await callController(url, 'POST', '/servers/fixture/start')).json).toMatchObject({ status: 'running', replicas: 1 });
    expect((await callController(url, 'POST', '/servers/fixture/scale', { replicas: 2 })).json).toMatchObject({ status: 'running', readyReplicas: 2 });
    const status = await runCli(['servers', 'status', 'fixture', '--controller', url, '--json'], { MCPWARM_TOKEN: CONTROLLER_TOKEN });
    expect(status.code, status.stderr).toBe(0);
    expect(status.json).toMatchObject({ name: 'fixture', status: 'running', readyReplicas: 2 });
    const stopped = await runCli(['servers', 'stop', 'fixture', '--controller', url, '--json'], { MCPWARM_TOKEN: CONTROLLER_TOKEN });
    expect(stopped.json).toMatchObject({ status: 'stopped', replicas: 0, readyReplicas: 0 });
    expect((await callController(url, 'POST', '/servers/fixture/stop', { force: true })).json).toMatchObject({ status: 'stopped' });
    expect((await callController(url, 'POST', '/servers/fixture/scale', { replicas: 11 })).json.error.code).toBe('REQUEST_INVALID');
    expect((await callController(url, 'GET', '/servers/unknown')).json.error.code).toBe('SERVER_NOT_FOUND');
    const unknown = await runCli(['servers', 'start', 'unknown', '--controller', url], { MCPWARM_TOKEN: CONTROLLER_TOKEN });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('SERVER_NOT_FOUND');
  }, 120_000);

  it('refuses without a token, off the allowlist of the runners, and for unknown activations', async () => {
    const anonymous = await fetch(new URL('/activations', harness.url), { method: 'POST', body: '{}' });
    expect(anonymous.status).toBe(401);
    expect((await callController(harness.url, 'GET', '/activations/a-000000000000')).json.error.code).toBe('INSTANCE_NOT_FOUND');
  });
});

describe('leases and the cold fallback', () => {
  let harness: InProcessController;

  beforeAll(async () => {
    harness = await startPool('leases', 1, { leaseMs: 5000, coldFallback: true, maxWaitMs: 100 });
    await until(async () => (await callController(harness.url, 'GET', '/ready')).status === 200, 60_000, 'the warm target');
  }, 120_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('serves a concurrent second activation from a cold runner, and ends both when their leases lapse', async () => {
    const answers = await Promise.all([1, 2].map(() => callController(harness.url, 'POST', '/activations', { image: images.fixture })));
    for (const answer of answers) expect(answer.status, JSON.stringify(answer.json)).toBe(201);
    const activations = answers.map((a) => a.json as Activation);
    expect(activations.map((a) => a.tier).sort()).toEqual(['cold', 'warm']);
    expect(new Set(activations.map((a) => a.runner)).size).toBe(2);
    for (const activation of activations) {
      await until(async () => (await callController(harness.url, 'GET', `/activations/${activation.activationId}`)).status === 404, 30_000, 'the lease to end the activation');
    }
    await until(async () => !(await harness.substrate.listRunners()).some((r) => activations.some((a) => a.runner === r.id)), 30_000, 'both runners to go');
    expect((await callController(harness.url, 'GET', '/activations')).json.activations).toEqual([]);
  }, 120_000);
});

describe('the claim race', () => {
  let harness: InProcessController;

  beforeAll(async () => {
    harness = await startPool('race', 20, { maxWaitMs: 200 });
    await until(async () => (await callController(harness.url, 'GET', '/ready')).status === 200, 120_000, 'twenty warm runners');
  }, 180_000);

  afterAll(async () => {
    await harness?.close();
  }, 120_000);

  it('200 concurrent activations against a pool of 20: no runner serves two, the rest get a coded 503', async () => {
    const answers = await Promise.all(Array.from({ length: 200 }, () => callController(harness.url, 'POST', '/activations', { image: images.fixture })));
    const succeeded = answers.filter((a) => a.status === 201).map((a) => a.json as Activation);
    const refused = answers.filter((a) => a.status !== 201);
    for (const answer of refused) {
      expect(answer.status).toBe(503);
      expect(answer.json.error.code).toBe('POOL_EXHAUSTED');
      expect(answer.headers.get('retry-after')).toBeTruthy();
    }
    expect(succeeded.length).toBeGreaterThan(0);
    // Claimed runners are replaced while the burst lasts, so up to max size (2 x 20) can be served.
    expect(succeeded.length).toBeLessThanOrEqual(40);
    expect(new Set(succeeded.map((a) => a.runner)).size).toBe(succeeded.length);

    // The runners' own records: each claimed runner holds exactly the one instance it was given.
    const token = await runnerToken(harness.stateDir);
    const runners: Runner[] = await harness.substrate.listRunners('race');
    let instances = 0;
    for (const runner of runners.filter((r) => r.endpoint)) {
      const listed = await fetch(new URL('/instances', runner.endpoint), { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<{ instances: Array<{ instanceId: string }> }>);
      expect(listed.instances.length).toBeLessThanOrEqual(1);
      instances += listed.instances.length;
      const mine = succeeded.filter((a) => a.runner === runner.id);
      expect(listed.instances.map((i) => i.instanceId)).toEqual(mine.map((a) => a.activationId));
    }
    expect(instances).toBe(succeeded.length);
    await Promise.all(succeeded.map((a) => callController(harness.url, 'DELETE', `/activations/${a.activationId}`)));
  }, 180_000);
});

/**
 * `mcpwarm proxy --image --controller`: the proxy's backends are activations on a real pool
 * controller (process substrate, real runner agents, the fixture image from a real registry),
 * spoken to over Streamable HTTP through the controller's relay.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type RunningController } from '../runner/controller/controller.js';
import { Pool } from '../runner/controller/pool.js';
import { runnerToken } from '../runner/controller/runner-token.js';
import { startProxy, type RunningProxy } from '../runner/proxy/proxy.js';
import { ProcessSubstrate } from '../runner/substrates/process/index.js';
import { imageFixture, type ImageFixture } from './support/agent-fixture.js';
import { connectClient, textOf, until } from './support/proxy-harness.js';

const TOKEN = 'proxy-pool-test-token';
let images: ImageFixture;
let controller: RunningController;
let substrate: ProcessSubstrate;
let proxy: RunningProxy | undefined;

async function activations(): Promise<Array<{ activationId: string }>> {
  const answer = await fetch(new URL('/activations', controller.url), { headers: { authorization: `Bearer ${TOKEN}` } });
  return ((await answer.json()) as { activations: Array<{ activationId: string }> }).activations;
}

beforeAll(async () => {
  images = await imageFixture('mcpwarm-proxy-pool-');
  const stateDir = join(images.work, 'pool');
  substrate = new ProcessSubstrate({ stateDir, stopGraceMs: 2000 });
  const runnersToken = await runnerToken(stateDir);
  const pool = new Pool({
    substrate,
    template: { pool: 'proxy', token: runnersToken, allow: [`${images.registry.address}/mcp/*`] },
    policy: { warmTarget: 2, maxSize: 4, maxAgeMs: 3_600_000, backoffBaseMs: 500, backoffMaxMs: 5000 },
    maxWaitMs: 30_000,
    maxQueue: 100,
    coldFallback: true,
    reconcileIntervalMs: 500,
  });
  controller = await startController({ host: '127.0.0.1', port: 0, pool, token: TOKEN, leaseMs: 600_000, servers: [] }, runnersToken);
  await until(async () => (await fetch(new URL('/ready', controller.url))).status === 200, 'the warm pool', 90_000);
}, 180_000);

afterAll(async () => {
  await proxy?.close();
  await controller?.close();
  if (substrate) {
    await Promise.all((await substrate.listRunners()).map((runner) => substrate.deleteRunner(runner.id)));
    await substrate.close();
  }
  await images?.close();
});

describe('proxy backends from the warm pool', () => {
  it('serves MCP from an activation, replaces it when its server crashes, and ends it on close', async () => {
    proxy = await startProxy({ strategy: 's-rard', backend: { kind: 'pool', controller: controller.url, image: images.fixture, token: TOKEN } });
    expect(proxy.backend).toBe(`pool: ${images.fixture} via ${new URL(controller.url).origin}`);
    const [first] = await activations();
    expect(first).toBeDefined();

    const url = new URL(`${proxy.url}/mcp`);
    const [a, b] = await Promise.all([connectClient(url), connectClient(url)]);
    expect((await a.client.listTools()).tools.map((tool) => tool.name).sort()).toEqual(['crash', 'echo', 'notify', 'progress', 'work']);
    const [fromA, fromB] = await Promise.all([
      a.client.callTool({ name: 'echo', arguments: { text: 'a via the pool' } }),
      b.client.callTool({ name: 'echo', arguments: { text: 'b via the pool' } }),
    ]);
    expect([textOf(fromA), textOf(fromB)]).toEqual(['a via the pool', 'b via the pool']);
    const progress: number[] = [];
    await b.client.callTool({ name: 'progress', arguments: { steps: 3, intervalMs: 100 } }, undefined, { onprogress: (update) => progress.push(update.progress) });
    expect(progress.length).toBeGreaterThanOrEqual(2);

    const crashed = await a.client.callTool({ name: 'crash', arguments: { code: 5 } }).catch((error: unknown) => error);
    expect((crashed as Error).message).toMatch(/the request was lost/);
    await until(async () => proxy!.stats().liveBackends === 1 && proxy!.metrics.snapshot().backendStarts === 2, 'a replacement activation', 60_000);
    expect(textOf(await b.client.callTool({ name: 'echo', arguments: { text: 'after the crash' } }))).toBe('after the crash');
    const now = await activations();
    expect(now.map((activation) => activation.activationId)).not.toContain(first!.activationId);

    await a.close();
    await b.close();
    await proxy.close();
    proxy = undefined;
    await until(async () => (await activations()).length === 0, 'the activations to end', 30_000);
  }, 120_000);
});

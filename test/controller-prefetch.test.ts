/**
 * Prefetching into new runners, on the process substrate with real runner agents and a real
 * registry: a fresh runner stays `prefetching` (not claimable) until its agent has pulled the
 * image, then a warm activation of it finds every layer cached; an image that cannot be pulled
 * leaves the runner warm and is counted; hot and named server images are prefetched without being
 * named; and a bad `--prefetch` fails the controller's start.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startShapingProxy, type ShapingProxy } from '../harness/cluster/shaping-proxy.js';
import { CLAIMED_AT_ANNOTATION } from '../runner/controller/claim.js';
import type { Activation } from '../runner/controller/controller.js';
import { PREFETCHED_ANNOTATION, type PoolRunner } from '../runner/controller/prefetch.js';
import { imageFixture, type ImageFixture } from './support/agent-fixture.js';
import { runCli } from './support/cli.js';
import { callController, metricValue, startInProcessController, until, type InProcessController } from './support/controller-harness.js';

let images: ImageFixture;
/** The registry behind a link with 200 ms round trips, so a runner's prefetch lasts long enough to be seen. */
let slowLink: ShapingProxy;
let slowFixture: string;

async function poolView(harness: InProcessController): Promise<{ available: number; runners: Record<string, number>; runnerList: PoolRunner[]; prefetch: any; refillSeconds: number }> {
  return (await callController(harness.url, 'GET', '/pool')).json;
}

beforeAll(async () => {
  images = await imageFixture('mcpwarm-controller-prefetch-');
  slowLink = await startShapingProxy({ upstream: { host: '127.0.0.1', port: images.registry.port }, rttMs: 200, maxQueueBytes: 8 * 2 ** 20 });
  slowFixture = images.fixture.replace(images.registry.address, `127.0.0.1:${slowLink.port}`);
}, 120_000);

afterAll(async () => {
  await slowLink?.close();
  await images?.close();
});

describe('a pool that prefetches', () => {
  let harness: InProcessController;

  afterAll(async () => {
    await harness?.close();
  });

  it('holds a fresh runner back until its prefetch is over, then serves a warm activation from its cache', async () => {
    harness = await startInProcessController(images, 'prefetch', {
      size: 1,
      allow: [`${images.registry.address}/mcp/*`, `127.0.0.1:${slowLink.port}/mcp/*`],
      controller: { prefetch: [slowFixture] },
    });
    let seen = await poolView(harness);
    expect(seen.prefetch).toMatchObject({ images: [slowFixture], medianSeconds: null, measured: 0 });
    await until(
      async () => {
        seen = await poolView(harness);
        return seen.runnerList.some((runner) => runner.phase === 'prefetching');
      },
      60_000,
      'a runner to be prefetching',
    );
    // Its agent is ready, but it is not claimable yet.
    expect(seen.available).toBe(0);
    expect(seen.runners).toEqual({ 'warm/prefetching': 1 });
    expect((await callController(harness.url, 'GET', '/ready')).status).toBe(503);

    // An activation asked for now waits for the prefetch to end.
    const answer = await callController(harness.url, 'POST', '/activations', { image: slowFixture, tier: 'warm' });
    expect(answer.status, answer.text).toBe(201);
    const activation = answer.json as Activation;
    expect(activation.tier).toBe('warm');
    expect(activation.cache).toMatchObject({ layersMissed: 0 });
    expect(activation.cache.layersHit).toBeGreaterThan(0);
    const served = (await poolView(harness)).runnerList.find((runner) => runner.id === activation.runner)!;
    expect(Date.parse(served.annotations[CLAIMED_AT_ANNOTATION]!)).toBeGreaterThanOrEqual(Date.parse(served.annotations[PREFETCHED_ANNOTATION]!));

    const view = await poolView(harness);
    expect(view.prefetch.measured).toBeGreaterThanOrEqual(1);
    expect(view.prefetch.medianSeconds).toBeGreaterThan(0);
    const metrics = (await callController(harness.url, 'GET', '/metrics')).text;
    expect(metricValue(metrics, 'mcp_warmpool_prefetch_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(metricValue(metrics, 'mcp_warmpool_prefetch_seconds_sum')).toBeGreaterThan(0);
    // The refill estimate counts the prefetch: the first runner's took at least its prefetch (blended into the 1 s start value).
    expect(view.refillSeconds).toBeGreaterThan(0.7 + 0.3 * view.prefetch.medianSeconds);
    expect((await callController(harness.url, 'DELETE', `/activations/${activation.activationId}`)).status).toBe(200);
  }, 120_000);
});

describe('a prefetch image that cannot be pulled', () => {
  let harness: InProcessController;

  afterAll(async () => {
    await harness?.close();
  });

  it('leaves the runner warm with the other images, is counted, and named server images are prefetched unasked', async () => {
    const missing = `${images.registry.address}/mcp/missing:1`;
    harness = await startInProcessController(images, 'prefetch-failing', {
      size: 1,
      controller: { prefetch: [missing], servers: [{ name: 'fixture', image: images.fixture }] },
    });
    expect((await poolView(harness)).prefetch.images).toEqual([missing, images.fixture]);
    await until(async () => (await poolView(harness)).available === 1, 60_000, 'the runner to be warm');
    const [runner] = (await poolView(harness)).runnerList;
    expect(runner).toMatchObject({ state: 'warm', phase: 'running', annotations: { [PREFETCHED_ANNOTATION]: expect.any(String) } });
    const metrics = (await callController(harness.url, 'GET', '/metrics')).text;
    expect(metricValue(metrics, `mcp_warmpool_prefetch_failures_total{image="${missing}"}`)).toBe(1);
    expect(metricValue(metrics, `mcp_warmpool_prefetch_failures_total{image="${images.fixture}"}`)).toBeUndefined();

    const answer = await callController(harness.url, 'POST', '/activations', { image: images.fixture, tier: 'warm' });
    expect(answer.status, answer.text).toBe(201);
    expect((answer.json as Activation).cache.layersMissed).toBe(0);
    expect((await callController(harness.url, 'DELETE', `/activations/${(answer.json as Activation).activationId}`)).status).toBe(200);
  }, 120_000);
});

describe('mcpwarm controller --prefetch', () => {
  it.each([
    [['--prefetch', 'Bad//Ref'], 'REF_INVALID'],
    [['--allow', '127.0.0.1:5000/mcp/*', '--prefetch', '127.0.0.1:5000/other/image:1'], 'IMAGE_NOT_ALLOWED'],
    [['--prefetch-timeout-ms', '0'], 'USAGE_INVALID'],
  ])('refuses %j before making a runner (%s)', async (flags, code) => {
    const stateDir = join(images.work, `cli-${code}`);
    const run = await runCli(['controller', '--size', '0', '--port', '0', '--insecure-no-auth', '--state-dir', stateDir, ...flags]);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain(`error ${code}:`);
  });
});

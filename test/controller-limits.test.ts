/**
 * The pool controller's bounds, on real runner agents (process substrate) and the real registry:
 * a runner whose agent accepts `POST /activate` and never answers (a real listener, started as
 * the runner's agent) is treated as lost after the activate timeout; stopping the controller
 * cancels a hot instance still being made and destroys the runner it held; and cold-fallback
 * runners are capped, the activations past the cap refused with a coded 503 and Retry-After.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activation } from '../runner/controller/controller.js';
import { imageFixture, type ImageFixture } from './support/agent-fixture.js';
import { runCli } from './support/cli.js';
import {
  callController,
  expectRunnerGone,
  metricValue,
  poolSettled,
  closeExpectingNoRunnerProcesses,
  startInProcessController,
  until,
  type InProcessController,
  type InProcessControllerOptions,
} from './support/controller-harness.js';
import { processesMentioning } from './support/processes.js';

const HANGING_AGENT = fileURLToPath(new URL('./support/hanging-agent.ts', import.meta.url));
/**
 * With the requests' readiness timeout of 25 s: an agent silent for 27 s is lost. The same limit
 * holds for the working runner of the retry, which must start, pull, unpack and run the fixture
 * within it on a machine busy with other suites (12 s was seen to be too little).
 */
const GRACE_MS = 2000;
const READINESS_MS = 25_000;

let images: ImageFixture;

beforeAll(async () => {
  images = await imageFixture('mcpwarm-controller-limits-');
}, 120_000);

afterAll(() => closeExpectingNoRunnerProcesses(images));

/** A controller whose next `hanging` runners run an agent that never answers POST /activate. */
async function withHangingRunners(name: string, hanging: number, options: Omit<InProcessControllerOptions, 'substrate'>): Promise<InProcessController> {
  const tokens = join(images.work, `${name}-hang-tokens`);
  await mkdir(tokens);
  for (let n = 1; n <= hanging; n += 1) await writeFile(join(tokens, `hang-${n}`), '');
  return startInProcessController(images, name, { ...options, substrate: { agentCommand: [process.execPath, '--import', 'tsx', HANGING_AGENT, `--hang-tokens=${tokens}`] } });
}

const onlyRunner = async (harness: InProcessController): Promise<string> => {
  const runners = await harness.substrate.listRunners();
  expect(runners).toHaveLength(1);
  return runners[0]!.id;
};

describe('a runner that accepts the activation and never answers', () => {
  const request = () => ({ image: images.fixture, tier: 'warm', readiness: { timeoutMs: READINESS_MS } });

  it('is treated as lost after the activate timeout: destroyed, replaced, and the activation served by another runner', async () => {
    const harness = await withHangingRunners('hung-once', 1, { size: 1, controller: { activateGraceMs: GRACE_MS } });
    try {
      await until(async () => (await callController(harness.url, 'GET', '/ready')).status === 200, 90_000, 'the warm target');
      const hung = await onlyRunner(harness);

      const answer = await callController(harness.url, 'POST', '/activations', request());
      expect(answer.status, answer.text).toBe(201);
      const activation = answer.json as Activation;
      expect(activation.attempts).toBe(2);
      expect(activation.runner).not.toBe(hung);
      expect(activation.phases.failedAttemptMs).toBeGreaterThanOrEqual(READINESS_MS + GRACE_MS - 50);
      await expectRunnerGone(harness, hung);

      const metrics = (await callController(harness.url, 'GET', '/metrics')).text;
      expect(metricValue(metrics, 'mcp_warmpool_activation_retries_total')).toBe(1);
      expect(metricValue(metrics, 'mcp_warmpool_claims_total{tier="warm",result="runner-lost"}')).toBe(1);
      expect((await callController(harness.url, 'DELETE', `/activations/${activation.activationId}`)).status).toBe(200);
      await until(() => poolSettled(harness, 1), 60_000, 'the pool back at its target');
    } finally {
      await harness.close();
    }
  }, 240_000);

  it('answers a coded error when the second runner hangs too, and destroys both', async () => {
    const harness = await withHangingRunners('hung-twice', 2, { size: 1, controller: { activateGraceMs: GRACE_MS } });
    try {
      await until(async () => (await callController(harness.url, 'GET', '/ready')).status === 200, 90_000, 'the warm target');
      const first = await onlyRunner(harness);

      const answer = await callController(harness.url, 'POST', '/activations', request());
      expect(answer.status, answer.text).toBe(503);
      expect(answer.json.error).toMatchObject({ code: 'SUBSTRATE_FAILED', details: { attempts: 2, timeoutMs: READINESS_MS + GRACE_MS } });
      expect(answer.json.error.message).toContain(`did not answer POST /activate within ${READINESS_MS + GRACE_MS} ms`);
      const second = answer.json.error.details.runner as string;
      expect(second).not.toBe(first);
      await expectRunnerGone(harness, first);
      await expectRunnerGone(harness, second);
      expect((await callController(harness.url, 'GET', '/activations')).json.activations).toEqual([]);

      // The tokens are spent: the pool refills with runners that answer.
      await until(() => poolSettled(harness, 1), 60_000, 'the pool back at its target');
      const next = await callController(harness.url, 'POST', '/activations', request());
      expect(next.status, next.text).toBe(201);
      expect(next.json.attempts).toBe(1);
    } finally {
      await harness.close();
    }
  }, 240_000);
});

describe('stopping the controller', () => {
  it('cancels a hot instance being made on a runner that hangs, and destroys that runner at once', async () => {
    // The default activate timeout (readiness 30 s + grace 60 s): without the cancel, the making would hold its runner that long.
    // The hot image is prefetched into new runners: the hanging one, which never answers that either, is warm after the prefetch timeout.
    const harness = await withHangingRunners('stop-hung', 1, { size: 1, controller: { hot: [{ image: images.fixture, min: 1, max: 1 }], prefetchTimeoutMs: 500 } });
    try {
      await until(async () => (await harness.substrate.listRunners()).some((r) => r.state === 'claimed'), 60_000, 'the hot instance to claim the hanging runner');
      const claimed = (await harness.substrate.listRunners()).find((r) => r.state === 'claimed')!;
      expect(await harness.substrate.agentLog(claimed.id)).toContain('hanging on POST /activate');
      expect((await callController(harness.url, 'GET', '/pool')).json.hot[0]).toMatchObject({ ready: 0, making: 1 });

      await harness.controller.close();
      // Gone by the time close() resolved; the warm runner stays (runners outlive their controller).
      const left = await harness.substrate.listRunners();
      expect(left.map((r) => r.id)).not.toContain(claimed.id);
      expect(left.every((r) => r.state === 'warm')).toBe(true);
      expect(await processesMentioning(join(harness.stateDir, 'runners', claimed.id))).toEqual([]);
    } finally {
      await harness.close();
    }
  }, 120_000);

  it('cancels a hot instance waiting for its cold runner, and destroys that runner at once', async () => {
    const harness = await startInProcessController(images, 'stop-cold', {
      // Runners made for activations alone: none for the pool.
      size: 0,
      maxSize: 0,
      pool: { coldFallback: true, maxWaitMs: 100 },
      controller: { hot: [{ image: images.fixture, min: 1, max: 1 }] },
    });
    try {
      // The runner's agent takes over a second to start: the making waits for it.
      await until(async () => (await callController(harness.url, 'GET', '/pool')).json.coldRunners === 1 && (await harness.substrate.listRunners()).length === 1, 30_000, 'a cold runner being made');
      const cold = await onlyRunner(harness);
      // Kept apart from the pool while it starts: not trimmed as surplus of a pool of size 0.
      expect(metricValue((await callController(harness.url, 'GET', '/metrics')).text, 'mcp_warmpool_runner_deletions_total{reason="surplus"}')).toBeUndefined();
      await harness.controller.close();
      expect(await harness.substrate.listRunners()).toEqual([]);
      expect(await processesMentioning(join(harness.stateDir, 'runners', cold))).toEqual([]);
    } finally {
      await harness.close();
    }
  }, 60_000);
});

describe('the cold-fallback cap', () => {
  let harness: InProcessController;

  beforeAll(async () => {
    harness = await startInProcessController(images, 'cold-cap', { size: 1, maxSize: 2, pool: { coldFallback: true, maxWaitMs: 300, maxColdRunners: 1 } });
    await until(async () => (await callController(harness.url, 'GET', '/ready')).status === 200, 90_000, 'the warm target');
  }, 120_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('makes at most --max-cold-runners at once and refuses the activations past it with 503 and Retry-After', async () => {
    let mostCold = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        mostCold = Math.max(mostCold, (await callController(harness.url, 'GET', '/pool')).json.coldRunners);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    // One warm runner: one activation gets it, the other three find none within 300 ms (no runner
    // starts that fast): one gets a cold runner, two are past the cap.
    const answers = await Promise.all(Array.from({ length: 4 }, () => callController(harness.url, 'POST', '/activations', { image: images.fixture })));
    watching = false;
    await watcher;

    const served = answers.filter((a) => a.status === 201).map((a) => a.json as Activation);
    expect(served.map((a) => a.tier).sort()).toEqual(['cold', 'warm']);
    const refused = answers.filter((a) => a.status !== 201);
    expect(refused).toHaveLength(2);
    for (const answer of refused) {
      expect(answer.status).toBe(503);
      expect(answer.json.error).toMatchObject({ code: 'POOL_EXHAUSTED', details: { coldRunners: 1, maxColdRunners: 1 } });
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    expect(mostCold).toBe(1);

    const pool = (await callController(harness.url, 'GET', '/pool')).json;
    expect(pool).toMatchObject({ coldRunners: 0, maxColdRunners: 1 });
    const metrics = (await callController(harness.url, 'GET', '/metrics')).text;
    expect(metricValue(metrics, 'mcp_warmpool_cold_fallbacks_refused_total')).toBe(2);
    expect(metricValue(metrics, 'mcp_warmpool_cold_fallbacks_total')).toBe(1);
    expect(metricValue(metrics, 'mcp_warmpool_cold_runners_max')).toBe(1);
    expect(metricValue(metrics, 'mcp_warmpool_cold_runners')).toBe(0);
    for (const activation of served) expect((await callController(harness.url, 'DELETE', `/activations/${activation.activationId}`)).status).toBe(200);
  }, 120_000);

  it('refuses a negative cap on the command line', async () => {
    const result = await runCli(['controller', '--max-cold-runners=-1', `--state-dir=${join(images.work, 'cli-cap')}`, '--insecure-no-auth', '--port=0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--max-cold-runners');
  }, 60_000);
});

/**
 * Autoscaling on real runner agents, with the controller run as its CLI (`mcpwarm controller
 * --autoscale`): a burst of activations raises the warm target above min and never past max, the
 * target falls back to min once the arrivals stop, each decision is one line on stderr (old -> new
 * target, arrival rate, refill time), and the target and its inputs are exported as metrics.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Activation } from '../runner/controller/controller.js';
import { ProcessSubstrate } from '../runner/substrates/process/index.js';
import type { Runner } from '../runner/substrates/types.js';
import { imageFixture, type ImageFixture } from './support/agent-fixture.js';
import { CONTROLLER_TOKEN, agentProcesses, callController, metricValue, until } from './support/controller-harness.js';
import { startControllerProcess, type ControllerProcess } from './support/controller-process.js';

const MIN = 1;
const MAX = 6;
let images: ImageFixture;
let controller: ControllerProcess | undefined;
let stateDir: string;

beforeAll(async () => {
  images = await imageFixture('mcpwarm-controller-autoscale-');
  stateDir = join(images.work, 'pool');
  controller = await startControllerProcess(
    [
      '--port=0',
      `--state-dir=${stateDir}`,
      '--pool=autoscale',
      `--size=${MIN}`,
      `--max-size=${MAX}`,
      '--autoscale',
      '--burst-margin=1',
      // A short half-life, so the target falls back within seconds once the burst is over.
      '--autoscale-half-life-ms=2000',
      '--no-cold-fallback',
      '--max-wait-ms=90000',
      `--allow=${images.registry.address}/mcp/*`,
    ],
    { MCPWARM_TOKEN: CONTROLLER_TOKEN },
  );
  await until(async () => (await callController(controller!.url, 'GET', '/ready')).status === 200, 90_000, 'the warm target');
}, 180_000);

afterAll(async () => {
  if (!images) return;
  const stopped = await controller?.kill('SIGTERM');
  const substrate = new ProcessSubstrate({ stateDir, stopGraceMs: 2000 });
  for (const runner of await substrate.listRunners()) await substrate.deleteRunner(runner.id);
  await substrate.close();
  const left = await agentProcesses(stateDir);
  await images.close();
  expect(left).toEqual([]);
  expect(stopped?.code).toBe(0);
}, 120_000);

interface Decision {
  from: number;
  to: number;
  rate: number;
  refill: number;
}

function decisions(stderr: string): Decision[] {
  return [...stderr.matchAll(/autoscale: warm target (\d+) -> (\d+) \(arrival rate ([\d.]+)\/s, refill ([\d.]+) s\)/g)].map((m) => ({
    from: Number(m[1]),
    to: Number(m[2]),
    rate: Number(m[3]),
    refill: Number(m[4]),
  }));
}

it('raises the warm target for a burst, within max, and brings it back to min after', async () => {
  const url = controller!.url;
  // The pool as seen every 200 ms while the test runs: the target and the runners it holds.
  const samples: Array<{ target: number; held: number }> = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const pool = (await callController(url, 'GET', '/pool')).json;
      const held = (pool.runnerList as Runner[]).filter((r) => r.state !== 'draining' && r.phase !== 'gone' && r.phase !== 'failed').length;
      samples.push({ target: pool.warmTarget, held });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();

  // The burst: activations arriving at once, each ended as soon as it is made, so every one
  // consumes a runner (single use) and the pool has to refill.
  const answers = await Promise.all(
    Array.from({ length: 5 }, async () => {
      const answer = await callController(url, 'POST', '/activations', { image: images.fixture, tier: 'warm' });
      if (answer.status === 201) await callController(url, 'DELETE', `/activations/${(answer.json as Activation).activationId}`);
      return answer;
    }),
  );
  for (const answer of answers) expect(answer.status, answer.text).toBe(201);
  expect(answers.every((a) => a.json.tier === 'warm')).toBe(true);

  const during = (await callController(url, 'GET', '/metrics')).text;
  expect(metricValue(during, 'mcp_warmpool_arrival_rate')).toBeGreaterThan(0);
  expect(metricValue(during, 'mcp_warmpool_refill_seconds')).toBeGreaterThan(0);
  expect(metricValue(during, 'mcp_warmpool_warm_target_changes_total{direction="up"}')).toBeGreaterThanOrEqual(1);

  await until(async () => (await callController(url, 'GET', '/pool')).json.warmTarget === MIN, 90_000, 'the target back at min');
  await until(async () => {
    const pool = (await callController(url, 'GET', '/pool')).json;
    return pool.available === MIN && pool.runnerList.length === MIN;
  }, 60_000, 'the surplus trimmed');
  sampling = false;
  await sampler;

  expect(Math.max(...samples.map((s) => s.target))).toBeGreaterThan(MIN);
  for (const sample of samples) {
    expect(sample.target).toBeLessThanOrEqual(MAX);
    expect(sample.target).toBeGreaterThanOrEqual(MIN);
    expect(sample.held).toBeLessThanOrEqual(MAX);
  }
  expect(await agentProcesses(stateDir)).toHaveLength(MIN);

  // One stderr line per decision, chained from min back to min.
  const logged = decisions(controller!.stderr());
  expect(logged.length).toBeGreaterThanOrEqual(2);
  expect(logged[0]).toMatchObject({ from: MIN });
  expect(logged[0]!.to).toBeGreaterThan(MIN);
  expect(logged.at(-1)!.to).toBe(MIN);
  for (const [i, decision] of logged.entries()) {
    if (i > 0) expect(decision.from).toBe(logged[i - 1]!.to);
    expect(decision.to).toBeLessThanOrEqual(MAX);
    expect(decision.refill).toBeGreaterThan(0);
  }
  const after = (await callController(url, 'GET', '/metrics')).text;
  expect(metricValue(after, 'mcp_warmpool_warm_target')).toBe(MIN);
  expect(metricValue(after, 'mcp_warmpool_warm_target_changes_total{direction="down"}')).toBeGreaterThanOrEqual(1);
  expect((metricValue(after, 'mcp_warmpool_warm_target_changes_total{direction="up"}') ?? 0) + (metricValue(after, 'mcp_warmpool_warm_target_changes_total{direction="down"}') ?? 0)).toBe(logged.length);
}, 180_000);

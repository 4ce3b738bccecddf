/**
 * The pool controller under faults, on real runner agents (process substrate), the real registry
 * and the SDK as MCP client: a runner killed during an activation (retried on another runner), a
 * runner killed under a live activation (coded 502 from the relay), a server that exits (its
 * activation ends, its runner is replaced), disallowed, unknown and broken images (coded errors,
 * the runner given back), a runner command that always fails (creation backs off), and a
 * controller killed and restarted on its state directory (activations recovered from the
 * runners). Each checks that the pool returns to its target and no process of a dead runner is left.
 */
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activation } from '../runner/controller/controller.js';
import { CLAIM_ANNOTATIONS } from '../runner/controller/claim.js';
import { RuncSandbox } from '../runner/sandbox/runc/index.js';
import { ProcessSubstrate } from '../runner/substrates/process/index.js';
import type { Runner, RunnerEvent } from '../runner/substrates/types.js';
import { imageFixture, type ImageFixture } from './support/agent-fixture.js';
import {
  CONTROLLER_TOKEN,
  agentPid,
  agentProcesses,
  callController,
  expectRunnerGone,
  metricValue,
  poolSettled,
  processRuns,
  closeExpectingNoRunnerProcesses,
  startInProcessController,
  until,
  untilPool,
  type InProcessController,
} from './support/controller-harness.js';
import { startControllerProcess, type ControllerProcess } from './support/controller-process.js';
import { processesMentioning } from './support/processes.js';

let images: ImageFixture;

beforeAll(async () => {
  images = await imageFixture('mcpwarm-controller-faults-');
}, 120_000);

afterAll(() => closeExpectingNoRunnerProcesses(images));

function mcpClient(url: string, activation: Activation, sessionId?: string): { client: Client; transport: StreamableHTTPClientTransport } {
  const transport = new StreamableHTTPClientTransport(new URL(activation.endpoint, url), {
    requestInit: { headers: { authorization: `Bearer ${CONTROLLER_TOKEN}` } },
    ...(sessionId !== undefined ? { sessionId } : {}),
  });
  return { client: new Client({ name: 'controller-faults-test', version: '1.0.0' }), transport };
}

describe('runners lost during and after an activation (failures seen by the controller alone)', () => {
  let harness: InProcessController;

  beforeAll(async () => {
    // The substrate's liveness poll and the activation checks are slowed down, so only the
    // controller's own calls to the runner can notice a dead agent here.
    harness = await startInProcessController(images, 'lost', { size: 2, substrate: { pollIntervalMs: 60_000 }, controller: { checkIntervalMs: 60_000 } });
    await until(async () => (await callController(harness.url, 'GET', '/ready')).status === 200, 90_000, 'the warm target');
  }, 120_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('retries an activation on another runner when its runner dies during it, and replaces the dead one', async () => {
    let victim: Runner | undefined;
    const killed = new Promise<Runner>((resolve) => {
      const unwatch = harness.substrate.watch((event: RunnerEvent) => {
        if (victim !== undefined || event.runner.state !== 'claimed') return;
        victim = event.runner;
        unwatch();
        // The agent pulls the image into its empty cache for hundreds of ms: kill it in the middle.
        setTimeout(() => void agentPid(harness.stateDir, event.runner.id).then((pid) => (process.kill(pid, 'SIGKILL'), resolve(event.runner))), 150);
      });
    });
    const answer = await callController(harness.url, 'POST', '/activations', { image: images.fixture, tier: 'warm' });
    const dead = await killed;
    expect(answer.status, answer.text).toBe(201);
    const activation = answer.json as Activation;
    expect(activation.attempts).toBe(2);
    expect(activation.runner).not.toBe(dead.id);
    expect(activation.phases.failedAttemptMs).toBeGreaterThan(0);
    expect(activation.phases.totalMs).toBeGreaterThan(activation.phases.failedAttemptMs + activation.phases.initializeMs);

    await expectRunnerGone(harness, dead.id);
    const metrics = (await callController(harness.url, 'GET', '/metrics')).text;
    expect(metricValue(metrics, 'mcp_warmpool_activation_retries_total')).toBe(1);
    expect(metricValue(metrics, 'mcp_warmpool_claims_total{tier="warm",result="runner-lost"}')).toBe(1);

    const { client, transport } = mcpClient(harness.url, activation);
    await client.connect(transport);
    expect(JSON.stringify((await client.callTool({ name: 'echo', arguments: { text: 'second runner' } })).content)).toContain('second runner');
    await client.close();
    expect((await callController(harness.url, 'DELETE', `/activations/${activation.activationId}`)).status).toBe(200);
    await until(() => poolSettled(harness, 2), 60_000, 'the pool back at its target');
  }, 120_000);

  it('answers a coded 502 when the runner of a live activation dies, ends the activation and replaces the runner', async () => {
    const answer = await callController(harness.url, 'POST', '/activations', { image: images.fixture, tier: 'warm' });
    expect(answer.status, answer.text).toBe(201);
    const activation = answer.json as Activation;
    const initialize = (id: number) =>
      fetch(new URL(activation.endpoint, harness.url), {
        method: 'POST',
        headers: { authorization: `Bearer ${CONTROLLER_TOKEN}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
      });
    const first = await initialize(1);
    await first.body?.cancel();
    expect(first.status).toBe(200);

    const pid = await agentPid(harness.stateDir, activation.runner);
    process.kill(pid, 'SIGKILL');
    await until(async () => !(await processRuns(pid)), 10_000, 'the agent to die');
    const relayed = await initialize(2);
    const body = (await relayed.json()) as { error: { code: string; details: Record<string, unknown> } };
    expect(relayed.status).toBe(502);
    expect(body.error.code).toBe('SERVICE_UNREACHABLE');
    expect(body.error.details).toMatchObject({ activationId: activation.activationId, runner: activation.runner, ended: 'runner-lost' });

    const after = await callController(harness.url, 'GET', `/activations/${activation.activationId}`);
    expect(after.status).toBe(404);
    expect(after.json.error).toMatchObject({ code: 'INSTANCE_NOT_FOUND', details: { ended: 'runner-lost' } });
    expect((await callController(harness.url, 'GET', '/activations')).json.activations).toEqual([]);
    await expectRunnerGone(harness, activation.runner);
    await until(() => poolSettled(harness, 2), 60_000, 'the pool back at its target');
    expect(metricValue((await callController(harness.url, 'GET', '/metrics')).text, 'mcp_warmpool_activations_ended_total{reason="runner-lost"}')).toBe(1);
  }, 120_000);
});

describe('activations that end on their own, and images that cannot run', () => {
  let harness: InProcessController;

  beforeAll(async () => {
    harness = await startInProcessController(images, 'ends', { size: 1, controller: { checkIntervalMs: 500 } });
    await until(async () => (await callController(harness.url, 'GET', '/ready')).status === 200, 90_000, 'the warm target');
  }, 120_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('ends an activation whose server exits, and destroys and replaces its runner', async () => {
    const answer = await callController(harness.url, 'POST', '/activations', { image: images.fixture, tier: 'warm' });
    expect(answer.status, answer.text).toBe(201);
    const activation = answer.json as Activation;
    const { client, transport } = mcpClient(harness.url, activation);
    await client.connect(transport);
    // The server exits without answering; the call fails one way or another.
    await client.callTool({ name: 'crash', arguments: { code: 3 } }, undefined, { timeout: 10_000 }).catch(() => undefined);
    await client.close().catch(() => undefined);

    await until(async () => (await callController(harness.url, 'GET', `/activations/${activation.activationId}`)).status === 404, 30_000, 'the activation to end');
    const ended = await callController(harness.url, 'GET', `/activations/${activation.activationId}`);
    expect(ended.json.error).toMatchObject({ code: 'INSTANCE_NOT_FOUND', details: { ended: 'server-exited' } });
    expect(ended.json.error.message).toContain('its MCP server exited');
    await expectRunnerGone(harness, activation.runner);
    expect(await new RuncSandbox().containers()).not.toContain(activation.activationId);
    await until(() => poolSettled(harness, 1), 60_000, 'the pool back at its target');
    expect(metricValue((await callController(harness.url, 'GET', '/metrics')).text, 'mcp_warmpool_activations_ended_total{reason="server-exited"}')).toBe(1);
  }, 120_000);

  it('refuses disallowed, unknown and broken images with coded errors, and gives the runner back unused', async () => {
    await until(() => poolSettled(harness, 1), 60_000, 'a settled pool');
    const ids = async () => (await harness.substrate.listRunners()).map((r) => r.id).sort();
    const before = await ids();

    const disallowed = await callController(harness.url, 'POST', '/activations', { image: `${images.registry.address}/elsewhere/fixture:1` });
    expect(disallowed.status).toBe(403);
    expect(disallowed.json.error.code).toBe('IMAGE_NOT_ALLOWED');
    // Refused before any claim: not a runner touched.
    expect(await ids()).toEqual(before);

    const unknown = await callController(harness.url, 'POST', '/activations', { image: `${images.registry.address}/mcp/no-such-image:1` });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toMatchObject({ code: 'IMAGE_NOT_FOUND', details: { attempts: 1 } });
    // Nothing ran on the runner: it is warm again, and the replacement its claim started is the surplus trimmed.
    await until(() => poolSettled(harness, 1), 60_000, 'the pool settled after the unknown image');
    expect(await ids()).toContain(unknown.json.error.details.runner);
    expect(await ids()).toHaveLength(1);

    const broken = await callController(harness.url, 'POST', '/activations', { image: images.fixture, entrypoint: ['/no/such/program'] });
    expect(broken.status).toBe(422);
    expect(broken.json.error).toMatchObject({ code: 'ENTRYPOINT_NOT_FOUND', details: { attempts: 1 } });
    await until(() => poolSettled(harness, 1), 60_000, 'the pool settled after the broken entrypoint');

    const after = await harness.substrate.listRunners();
    expect(after).toHaveLength(1);
    for (const runner of after) {
      expect(runner.state).toBe('warm');
      for (const key of CLAIM_ANNOTATIONS) expect(runner.annotations[key]).toBeUndefined();
    }
    expect((await callController(harness.url, 'GET', '/activations')).json.activations).toEqual([]);
    const metrics = (await callController(harness.url, 'GET', '/metrics')).text;
    expect(metricValue(metrics, 'mcp_warmpool_claims_total{tier="warm",result="refused"}')).toBe(2);
    expect(metricValue(metrics, 'mcp_warmpool_activation_retries_total')).toBe(0);
  }, 120_000);
});

describe('a runner command that always fails', () => {
  it('backs off creation instead of looping, stays not ready, and exports the failures', async () => {
    const failing = await startInProcessController(images, 'failing', {
      size: 2,
      substrate: { agentCommand: [process.execPath, '-e', "console.error('agent cannot start'); process.exit(3)", '--'], pollIntervalMs: 100 },
    });
    try {
      // With backoff 500 ms x 2^(failures - 1), two runners at a time are made at 0 s, about 1 s and
      // about 5 s: six creations in six seconds, where an unchecked loop would make dozens.
      await new Promise((resolve) => setTimeout(resolve, 6000));
      const ready = await callController(failing.url, 'GET', '/ready');
      expect(ready.status).toBe(503);
      const metrics = (await callController(failing.url, 'GET', '/metrics')).text;
      const failed = metricValue(metrics, 'mcp_warmpool_runner_creations_total{result="failed"}') ?? 0;
      const starting = (ready.json.pool.runners['warm/pending'] as number | undefined) ?? 0;
      expect(failed).toBeGreaterThanOrEqual(2);
      expect(failed + starting).toBeLessThanOrEqual(8);
      expect(ready.json.pool.consecutiveCreationFailures).toBe(failed);
      expect(metricValue(metrics, 'mcp_warmpool_runner_creations_total{result="ready"}')).toBeUndefined();
      expect(metricValue(metrics, 'mcp_warmpool_runner_deletions_total{reason="failed"}')).toBeGreaterThanOrEqual(1);
    } finally {
      await failing.close();
    }
    expect(await processesMentioning(failing.stateDir)).toEqual([]);
  }, 60_000);
});

describe('a controller restarted on its state directory', () => {
  const stateDir = () => join(images.work, 'restart');
  const env = () => ({ MCPWARM_TOKEN: CONTROLLER_TOKEN });
  let controller: ControllerProcess | undefined;

  afterAll(async () => {
    if (controller) await controller.kill('SIGKILL');
    const substrate = new ProcessSubstrate({ stateDir: stateDir(), stopGraceMs: 2000 });
    for (const runner of await substrate.listRunners()) await substrate.deleteRunner(runner.id);
    await substrate.close();
    expect(await agentProcesses(stateDir())).toEqual([]);
  });

  it('recovers activations from the runners after SIGKILL, and leaves the runners on SIGTERM', async () => {
    const args = (port: number) => [
      `--port=${port}`,
      `--state-dir=${stateDir()}`,
      '--size=1',
      '--max-size=3',
      '--pool=restart',
      `--allow=${images.registry.address}/mcp/*`,
    ];
    controller = await startControllerProcess(args(0), env());
    const port = Number(new URL(controller.url).port);
    const url = controller.url;
    await until(async () => (await callController(url, 'GET', '/ready')).status === 200, 90_000, 'the warm target');

    const answer = await callController(url, 'POST', '/activations', { image: images.fixture, tier: 'warm' });
    expect(answer.status, answer.text).toBe(201);
    const activation = answer.json as Activation;
    const { client, transport } = mcpClient(url, activation);
    await client.connect(transport);
    expect(JSON.stringify((await client.callTool({ name: 'echo', arguments: { text: 'before' } })).content)).toContain('before');
    await untilPool(url, (pool) => pool.available === 1, 60_000, 'the refill');
    const runnersBefore = (await callController(url, 'GET', '/pool')).json.runnerList.map((r: Runner) => r.id).sort();
    expect(runnersBefore).toHaveLength(2);
    expect(await agentProcesses(stateDir())).toHaveLength(2);

    expect((await controller.kill('SIGKILL')).signal).toBe('SIGKILL');
    controller = undefined;
    expect(await agentProcesses(stateDir())).toHaveLength(2);

    controller = await startControllerProcess(args(port), env());
    expect(controller.url).toBe(url);
    expect(controller.stderr()).toContain('recovered 1 activation(s)');
    const listed = (await callController(url, 'GET', '/activations')).json.activations as Activation[];
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ activationId: activation.activationId, runner: activation.runner, tier: 'warm', recovered: true, image: activation.image });
    // The client's session lives on the runner: it goes on through the new controller.
    expect(JSON.stringify((await client.callTool({ name: 'echo', arguments: { text: 'after' } })).content)).toContain('after');
    await client.close();
    expect((await callController(url, 'GET', '/pool')).json.runnerList.map((r: Runner) => r.id).sort()).toEqual(runnersBefore);
    expect(await agentProcesses(stateDir())).toHaveLength(2);

    expect((await callController(url, 'DELETE', `/activations/${activation.activationId}`)).status).toBe(200);
    await until(() => poolSettled({ url }, 1), 60_000, 'the pool back at its target');
    await until(async () => (await agentProcesses(stateDir())).length === 1, 30_000, 'one agent, no duplicates');

    const stopped = await controller.kill('SIGTERM');
    controller = undefined;
    expect(stopped.code).toBe(0);
    // Runners outlive their controller by design.
    expect(await agentProcesses(stateDir())).toHaveLength(1);
  }, 180_000);
});

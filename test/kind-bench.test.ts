/**
 * What `make kind-bench` needs, on a machine without kind: `mcpwarm kind check` and a scenario on
 * the kubernetes substrate fail at once with TOOL_MISSING naming the missing tool, having started
 * nothing; and the HTTP client scenarios use for a pool controller they did not start, against a
 * real controller (process substrate, no runners: its answers and coded errors pass through).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controllerClient } from '../harness/scenario/controller-client.js';
import { scenarioController } from '../harness/scenario/scenario-controllers.js';
import { RunTeardown } from '../harness/scenario/teardown.js';
import { startController, type RunningController } from '../runner/controller/controller.js';
import { Pool } from '../runner/controller/pool.js';
import { findExecutable } from '../runner/exec.js';
import { ProcessSubstrate } from '../runner/substrates/process/index.js';
import { descendantProcesses } from './support/agent-fixture.js';
import { caught } from './support/caught.js';
import { runCli } from './support/cli.js';

const TOKEN = 'kind-bench-test-token';
const kindInstalled = findExecutable('kind') !== undefined && findExecutable('kubectl') !== undefined;

function scenarioOptions(work: string, teardown: RunTeardown, substrate: string) {
  return { name: 'pool', stateDir: join(work, 'pool'), substrate, size: 1, maxSize: 3, maxWaitMs: 1000, coldFallback: false, sandbox: 'auto', teardown };
}

describe.skipIf(kindInstalled)('the kind bench where kind is not installed', () => {
  it('mcpwarm kind check exits 1 with TOOL_MISSING naming the missing tools and how to get them', async () => {
    const started = performance.now();
    const result = await runCli(['kind', 'check', '--json']);
    process.stderr.write(`mcpwarm kind check without kind: exit ${result.code} after ${(performance.now() - started).toFixed(0)} ms (the CLI's start included)\n`);
    expect(result.code).toBe(1);
    const error = (result.json as { error: { code: string; message: string; details: { missing: string[] } } }).error;
    expect(error.code).toBe('TOOL_MISSING');
    expect(error.details.missing).toContain('kind');
    expect(error.message).toMatch(/needs .*kind/);
    expect(result.stderr).toContain('go install sigs.k8s.io/kind');
  });

  it('a scenario on the kubernetes substrate gets TOOL_MISSING from its controller, with nothing started', async () => {
    const work = await mkdtemp(join(tmpdir(), 'mcpwarm-kind-bench-'));
    const teardown = new RunTeardown();
    try {
      const error = await caught(scenarioController(scenarioOptions(work, teardown, 'kubernetes')));
      expect(error.code).toBe('TOOL_MISSING');
      expect(error.details).toMatchObject({ missing: expect.arrayContaining(['kind']) });
      expect(await teardown.run()).toEqual([]);
      expect(await descendantProcesses()).toEqual([]);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

describe('scenario controllers', () => {
  let work: string;
  let substrate: ProcessSubstrate;
  let controller: RunningController;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'mcpwarm-controller-client-'));
    substrate = new ProcessSubstrate({ stateDir: join(work, 'state') });
    const pool = new Pool({
      substrate,
      template: { pool: 'empty', token: 'runner-token-unused' },
      policy: { warmTarget: 0, maxSize: 0, maxAgeMs: 3_600_000, backoffBaseMs: 500, backoffMaxMs: 5000 },
      maxWaitMs: 100,
      maxQueue: 10,
      coldFallback: false,
      reconcileIntervalMs: 500,
    });
    controller = await startController({ host: '127.0.0.1', port: 0, pool, substrate, token: TOKEN, leaseMs: 60_000 }, 'runner-token-unused');
  });

  afterAll(async () => {
    await controller?.close();
    await substrate?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('speaks to a controller it did not start: pool status, settling, and coded refusals', async () => {
    const live = new Set<string>();
    const client = controllerClient({ url: controller.url, token: TOKEN, name: 'empty', what: 'the test controller', live });
    const status = await client.pool();
    expect(status).toMatchObject({ pool: 'empty', available: 0, substrate: { ok: true } });
    await client.settle(0, 5000);
    expect((await caught(client.settle(1, 300))).code).toBe('SUBSTRATE_FAILED');
    const exhausted = await caught(client.activate('127.0.0.1:5000/mcp/fixture:1'));
    expect(exhausted.code).toBe('POOL_EXHAUSTED');
    expect(live.size).toBe(0);
    const unauthorized = await caught(controllerClient({ url: controller.url, token: 'wrong', name: 'empty', what: 'the test controller' }).activate('127.0.0.1:5000/mcp/fixture:1'));
    expect(unauthorized.code).toBe('AUTH_REQUIRED');
  });

  it('refuses a substrate it does not know with USAGE_INVALID', async () => {
    const error = await caught(scenarioController(scenarioOptions(work, new RunTeardown(), 'mainframe')));
    expect(error.code).toBe('USAGE_INVALID');
  });
});

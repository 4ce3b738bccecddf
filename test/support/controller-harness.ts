/**
 * A pool controller in the test process on the process substrate (real runner agents), with
 * helpers to call its API, wait for its state, and find the processes a runner left.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { mountsUnder } from '../../runner/mounts.js';
import { startController, type ControllerOptions, type RunningController } from '../../runner/controller/controller.js';
import { Pool, type PoolOptions } from '../../runner/controller/pool.js';
import { runnerToken } from '../../runner/controller/runner-token.js';
import { ProcessSubstrate, type ProcessSubstrateOptions } from '../../runner/substrates/process/index.js';
import type { ImageFixture } from './agent-fixture.js';
import { callApi, type Answer } from './http-api.js';
import { processesMentioning } from './processes.js';

export const CONTROLLER_TOKEN = 'controller-test-token';

export function callController(url: string, method: string, path: string, body?: unknown): Promise<Answer> {
  return callApi(url, CONTROLLER_TOKEN, method, path, body);
}

/** Waits for a condition of a running system, re-checked every 100 ms, failing after `timeoutMs`. */
export async function until(condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Waits until the controller's GET /pool meets `condition`, re-read every 100 ms; a timeout
 * shows the pool as last seen, so a failure says what the pool was doing.
 */
export async function untilPool(url: string, condition: (pool: any) => boolean, timeoutMs: number, what: string): Promise<void> {
  let last = '';
  try {
    await until(async () => {
      const answer = await callController(url, 'GET', '/pool');
      last = answer.text;
      return answer.status === 200 && condition(answer.json);
    }, timeoutMs, what);
  } catch (error) {
    throw new Error(`${(error as Error).message}; the pool: ${last}`);
  }
}

/** The value of a Prometheus sample (`name{labels}` exactly as exposed), or undefined. */
export function metricValue(exposition: string, sample: string): number | undefined {
  const line = exposition.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

export interface InProcessController {
  url: string;
  /** Its close() may be called before the harness's own close (which then does not close it again). */
  controller: RunningController;
  substrate: ProcessSubstrate;
  pool: Pool;
  stateDir: string;
  /** Closes the controller, deletes every runner and closes the substrate. */
  close(): Promise<void>;
}

export interface InProcessControllerOptions {
  size: number;
  maxSize?: number;
  /** Images the controller and its runners allow (default: the fixture registry's mcp/*). */
  allow?: string[];
  substrate?: Partial<ProcessSubstrateOptions>;
  pool?: Partial<Omit<PoolOptions, 'substrate' | 'template'>>;
  controller?: Partial<Omit<ControllerOptions, 'pool' | 'host' | 'port' | 'token'>>;
}

export async function startInProcessController(images: ImageFixture, name: string, options: InProcessControllerOptions): Promise<InProcessController> {
  const stateDir = join(images.work, name);
  const substrate = new ProcessSubstrate({ stateDir, stopGraceMs: 2000, ...options.substrate });
  const token = await runnerToken(stateDir);
  const allow = options.allow ?? [`${images.registry.address}/mcp/*`];
  const pool = new Pool({
    substrate,
    template: { pool: name, token, allow },
    policy: { warmTarget: options.size, maxSize: options.maxSize ?? options.size * 2, maxAgeMs: 3_600_000, backoffBaseMs: 500, backoffMaxMs: 5000 },
    maxWaitMs: 20_000,
    maxQueue: 100,
    coldFallback: false,
    reconcileIntervalMs: 500,
    ...options.pool,
  });
  const running = await startController(
    { host: '127.0.0.1', port: 0, pool, token: CONTROLLER_TOKEN, leaseMs: 600_000, allow, ...options.controller },
    token,
  );
  let closed: Promise<void> | undefined;
  const controller: RunningController = { url: running.url, close: () => (closed ??= running.close()) };
  return {
    url: controller.url,
    controller,
    substrate,
    pool,
    stateDir,
    close: async () => {
      await controller.close();
      await Promise.all((await substrate.listRunners()).map((runner) => substrate.deleteRunner(runner.id)));
      await substrate.close();
    },
  };
}

/** Exactly `available` runners, each warm and ready: nothing claimed, starting, draining or failed. */
export async function poolSettled(harness: { url: string }, available: number): Promise<boolean> {
  const pool = (await callController(harness.url, 'GET', '/pool')).json;
  return pool.available === available && pool.runnerList.length === available;
}

/** Nothing of a dead runner is left: its directory, mounts, agent, runc containers. */
export async function expectRunnerGone(harness: InProcessController, runnerId: string): Promise<void> {
  const dir = join(harness.stateDir, 'runners', runnerId);
  await until(async () => !existsSync(dir) && !(await harness.substrate.listRunners()).some((r) => r.id === runnerId), 30_000, `runner ${runnerId} to be deleted`);
  expect(await processesMentioning(dir)).toEqual([]);
  expect(mountsUnder(dir)).toEqual([]);
}

/** The agent pid the process substrate recorded for a runner (in its agent handle, or at the top level in older records). */
export async function agentPid(stateDir: string, runnerId: string): Promise<number> {
  const record = JSON.parse(await readFile(join(stateDir, 'runners', runnerId, 'runner.json'), 'utf8')) as { pid?: number; agent?: { pid?: number } };
  const pid = record.agent?.pid ?? record.pid;
  if (pid === undefined) throw new Error(`runner ${runnerId} has no agent pid in its record`);
  return pid;
}

/** Whether a process runs (a zombie, exited but not yet reaped, does not). */
export async function processRuns(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat !== undefined && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

/** Runner agents (not the servers they run) started on a state directory. */
export async function agentProcesses(stateDir: string): Promise<Array<{ pid: number; cmdline: string }>> {
  return (await processesMentioning(`--token-file=${join(stateDir, 'runners')}`)).filter((p) => / agent /.test(p.cmdline));
}

/**
 * Closes the image fixture, failing if any process of the file's runners is left: every runner
 * agent and runc container of a test file names a directory under the fixture's work dir.
 */
export async function closeExpectingNoRunnerProcesses(images: ImageFixture | undefined): Promise<void> {
  if (!images) return;
  const left = (await processesMentioning(images.work)).filter((p) => !p.cmdline.includes('docker-registry'));
  await images.close();
  expect(left).toEqual([]);
}

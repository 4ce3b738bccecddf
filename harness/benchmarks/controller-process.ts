/**
 * The pool controller as its own process (`mcpwarm controller`, process substrate), as it runs in
 * production, for benchmarks: its RSS is its own, and its event loop competes with nobody's.
 * Stopping it also destroys its runners, which outlive a controller by design.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CleanupStack } from '../../runner/cleanup-stack.js';
import { McpWarmError } from '../../runner/errors.js';
import { callJson, errorFromAnswer } from '../../runner/http-json.js';
import type { HotImageConfig } from '../../runner/controller/hot-tier.js';
import type { PoolRunner } from '../../runner/controller/prefetch.js';
import type { PrefetchStatus } from '../../runner/controller/runner-prefetch.js';
import { runnerToken } from '../../runner/controller/runner-token.js';
import { AGENT_CWD, defaultAgentCommand } from '../../runner/substrates/process/agent-process.js';
import { ProcessSubstrate } from '../../runner/substrates/process/index.js';
import { rssBytes } from '../measure/rss.js';

export interface ControllerProcessOptions {
  /** State directory of the pool, with the controller's token and log beside it. */
  dir: string;
  size: number;
  hot: Array<Pick<HotImageConfig, 'image' | 'min'>>;
  /** Images every new runner pulls before it counts as warm (`--prefetch`; the hot images are anyway). */
  prefetch?: string[];
  /** Where its teardown is registered as soon as the process is spawned. */
  cleanups: CleanupStack;
}

/** What `GET /pool` answers. */
export interface PoolView {
  warmTarget: number;
  maxSize: number;
  available: number;
  runners: Record<string, number>;
  refillSeconds: number;
  prefetch: PrefetchStatus;
  hot: Array<{ image: string; ready: number; making: number; min: number; max: number }>;
  /** Phases as the pool sees them: `prefetching` until a runner's prefetch is over. */
  runnerList: PoolRunner[];
}

export interface ControllerProcess {
  url: string;
  pid: number;
  stateDir: string;
  /** The bearer token of the pool's runner agents (the controller holds it too). */
  runnerToken: string;
  /** A call on the controller's API with its token. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  pool(): Promise<PoolView>;
  rssBytes(): Promise<number | undefined>;
  /** The RSS of each runner agent that answers, from its own /metrics (Node's process_resident_memory_bytes, VmRSS). */
  runnerAgentsRss(): Promise<number[]>;
  /** Until the warm target is reached, every hot shelf is full and no runner is starting or going. */
  settled(timeoutMs?: number): Promise<PoolView>;
  /** SIGTERM (SIGKILL after 30 s), then every runner destroyed; idempotent. */
  stop(): Promise<void>;
}

const TOKEN = 'bench-pool-controller-token';
const LISTENING = /controller listening on (http:\/\/\S+)/;

async function logTail(path: string, lines = 15): Promise<string> {
  return (await readFile(path, 'utf8').catch(() => '')).trimEnd().split('\n').slice(-lines).join('\n');
}

function exitOf(child: ChildProcess): Promise<void> {
  // A process that could not be spawned at all emits 'error' and never 'exit'.
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
}

/** A runner agent's resident set from its metrics (the agent may run anywhere the substrate puts it). */
async function agentRssBytes(endpoint: string): Promise<number | undefined> {
  try {
    const response = await fetch(new URL('/metrics', endpoint), { signal: AbortSignal.timeout(5000) });
    const value = /^process_resident_memory_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(await response.text())?.[1];
    return value === undefined ? undefined : Number(value);
  } catch {
    return undefined;
  }
}

/** Destroys every runner recorded in the state directory (their agents and whatever they left). */
async function destroyRunners(stateDir: string): Promise<void> {
  const substrate = new ProcessSubstrate({ stateDir, stopGraceMs: 2000 });
  try {
    await Promise.all((await substrate.listRunners()).map((runner) => substrate.deleteRunner(runner.id)));
  } finally {
    await substrate.close();
  }
}

export async function startControllerProcess(options: ControllerProcessOptions): Promise<ControllerProcess> {
  const stateDir = join(options.dir, 'state');
  const tokenFile = join(options.dir, 'token');
  const logFile = join(options.dir, 'controller.log');
  await mkdir(stateDir, { recursive: true });
  await writeFile(tokenFile, TOKEN, { mode: 0o600 });
  // Made here first so the benchmark can reach the runners' agents too; the controller reads the same file.
  const runners = await runnerToken(stateDir);
  // The same CLI the runner agents run from: compiled, or the source behind tsx.
  const [program, ...cli] = defaultAgentCommand().slice(0, -1);
  const args = [
    ...cli,
    'controller',
    '--substrate=process',
    `--size=${options.size}`,
    '--port=0',
    '--host=127.0.0.1',
    `--state-dir=${stateDir}`,
    `--token-file=${tokenFile}`,
    '--pool=bench',
    ...options.hot.map((hot) => `--hot=${hot.image}=${hot.min}`),
    ...(options.prefetch ?? []).map((image) => `--prefetch=${image}`),
  ];
  const log = await open(logFile, 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(program!, args, { cwd: AGENT_CWD, stdio: ['ignore', log.fd, log.fd] });
  } finally {
    await log.close();
  }
  let gone = false;
  const exited = exitOf(child).then(() => {
    gone = true;
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      child.kill('SIGTERM');
      // An unref'd timer: a controller that exits at once must not keep this process waiting 30 s.
      const killed = await Promise.race([exited.then(() => false), sleep(30_000, true, { ref: false })]);
      if (killed) {
        child.kill('SIGKILL');
        await exited;
      }
      await destroyRunners(stateDir);
    })());
  options.cleanups.push(`the controller in ${options.dir} and its runners`, stop);

  try {
    let url: string | undefined;
    const deadline = Date.now() + 60_000;
    while ((url = LISTENING.exec(await readFile(logFile, 'utf8'))?.[1]) === undefined) {
      if (gone || Date.now() > deadline) {
        throw new McpWarmError('SERVICE_UNREACHABLE', `the controller did not start; log ${logFile}:\n${await logTail(logFile)}`);
      }
      await sleep(25);
    }
    const base = url;
    const call = (method: string, path: string, body?: unknown) =>
      callJson(new URL(path, base), { method, token: TOKEN, body, unreachable: { code: 'SERVICE_UNREACHABLE', what: 'the controller' } });
    const pool = async (): Promise<PoolView> => {
      const { status, json } = await call('GET', '/pool');
      if (status !== 200) throw errorFromAnswer(json.error ?? {}, status);
      return json as PoolView;
    };
    const settled = async (timeoutMs = 180_000): Promise<PoolView> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const view = await pool();
        const hotFull = view.hot.every((shelf) => shelf.ready >= shelf.min && shelf.making === 0);
        const steady = view.runnerList.every((runner) => runner.phase === 'running' && runner.state !== 'draining');
        if (view.available >= view.warmTarget && hotFull && steady) return view;
        if (Date.now() > deadline || gone) {
          throw new McpWarmError('SUBSTRATE_FAILED', `the pool did not settle within ${timeoutMs} ms: ${JSON.stringify({ runners: view.runners, hot: view.hot })}; controller log ${logFile}:\n${await logTail(logFile)}`);
        }
        await sleep(100);
      }
    };
    return {
      url: base,
      pid: child.pid!,
      stateDir,
      runnerToken: runners,
      call,
      pool,
      rssBytes: () => rssBytes(child.pid!),
      runnerAgentsRss: async () => {
        const endpoints = (await pool()).runnerList.flatMap((runner) => (runner.endpoint === undefined ? [] : [runner.endpoint]));
        const readings = await Promise.all(endpoints.map(agentRssBytes));
        return readings.filter((bytes): bytes is number => bytes !== undefined);
      },
      settled,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

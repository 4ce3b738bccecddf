/**
 * The `process` substrate: each runner is a runner agent started as a local process, in its own
 * session so it survives the controller. Its state lives in `stateDir/runners/<id>/` (record,
 * token, cache, log), so a controller restarted on the same state directory recovers the pool.
 *
 * Compare-and-set is atomic among all callers of one ProcessSubstrate; its lock is in memory, so
 * run one controller (one ProcessSubstrate) per state directory at a time.
 */
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { McpWarmError } from '../../errors.js';
import { sweepInstances } from '../../agent/leftovers.js';
import type { Runner, RunnerEvent, RunnerPatch, RunnerPhase, RunnerTemplate, Substrate } from '../types.js';
import { agentArgs, defaultAgentCommand, isAgentProcess, logTail, readListeningUrl, spawnAgent, stopAgent, type AgentPaths } from './agent-process.js';
import { RunnerStore, type RunnerRecord } from './runner-store.js';

export interface ProcessSubstrateOptions {
  stateDir: string;
  /** The command that runs `mcpwarm agent` (flags are appended). */
  agentCommand?: string[];
  /** How long a new agent has to answer GET /ready with 200 before its runner is `failed` (default 60 s). */
  readyTimeoutMs?: number;
  /** Time between SIGTERM and SIGKILL when a runner is deleted (default 10 s). */
  stopGraceMs?: number;
  /** Liveness poll interval while someone watches (default 500 ms). */
  pollIntervalMs?: number;
}

const POOL_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const STEP_MS = 100;

function agentPaths(dir: string): AgentPaths {
  return { cacheDir: join(dir, 'cache'), tokenFile: join(dir, 'token'), logFile: join(dir, 'agent.log') };
}

function toRunner(record: RunnerRecord, phase: RunnerPhase = record.phase): Runner {
  return {
    id: record.id,
    pool: record.pool,
    state: record.state,
    phase,
    ...(record.endpoint !== undefined ? { endpoint: record.endpoint } : {}),
    annotations: { ...record.annotations },
    createdAt: record.createdAt,
    version: record.version,
  };
}

/** The phase an agent that is no longer there leaves its runner in: it never got ready, or it went away. */
function phaseAfterExit(phase: RunnerPhase): RunnerPhase {
  return phase === 'pending' ? 'failed' : phase === 'running' ? 'gone' : phase;
}

function validateTemplate(template: RunnerTemplate): void {
  const problems: string[] = [];
  if (!POOL_PATTERN.test(template.pool)) problems.push(`pool ${JSON.stringify(template.pool)} is not a label value ([A-Za-z0-9._-], at most 63, alphanumeric at both ends)`);
  if (template.token.trim() === '' || /\s/.test(template.token.trim())) problems.push('token must be non-empty and hold no whitespace');
  if (problems.length > 0) throw new McpWarmError('USAGE_INVALID', `invalid runner template: ${problems.join('; ')}`, { details: { problems } });
}

export class ProcessSubstrate implements Substrate {
  readonly name = 'process';
  private readonly store: RunnerStore;
  private readonly agentCommand: string[];
  private readonly readyTimeoutMs: number;
  private readonly stopGraceMs: number;
  private readonly pollIntervalMs: number;
  private readonly listeners = new Set<(event: RunnerEvent) => void>();
  /** Runners whose readiness this substrate is waiting for. */
  private readonly waiting = new Map<string, Promise<void>>();
  private readonly closing = new AbortController();
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;

  constructor(options: ProcessSubstrateOptions) {
    this.store = new RunnerStore(resolve(options.stateDir));
    this.agentCommand = options.agentCommand ?? defaultAgentCommand();
    this.readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
    this.stopGraceMs = options.stopGraceMs ?? 10_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
  }

  async createRunner(template: RunnerTemplate): Promise<Runner> {
    validateTemplate(template);
    const id = `runner-${randomBytes(6).toString('hex')}`;
    const dir = await this.store.makeDir(id);
    const paths = agentPaths(dir);
    let pid: number | undefined;
    try {
      await writeFile(paths.tokenFile, `${template.token}\n`, { mode: 0o600, flag: 'wx' });
      pid = await spawnAgent(this.agentCommand, agentArgs(template, paths), paths.logFile);
      const record = await this.store.create({ id, pool: template.pool, state: 'warm', phase: 'pending', annotations: {}, createdAt: new Date().toISOString(), pid });
      this.emit({ type: 'added', runner: toRunner(record) });
      this.awaitReady(record);
      return toRunner(record);
    } catch (error) {
      if (pid !== undefined) await stopAgent(pid, paths.tokenFile, 0).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  async deleteRunner(id: string): Promise<void> {
    const removed = await this.store.remove(id, async (record) => {
      if (record !== undefined) await stopAgent(record.pid, agentPaths(this.store.dirOf(id)).tokenFile, this.stopGraceMs);
      // An agent killed at the end of the grace period may leave servers and mounts behind.
      await sweepInstances(join(agentPaths(this.store.dirOf(id)).cacheDir, 'instances'));
    });
    if (removed !== undefined) this.emit({ type: 'deleted', runner: toRunner(removed, phaseAfterExit(removed.phase)) });
  }

  async listRunners(pool?: string): Promise<Runner[]> {
    const records = (await this.store.list()).filter((record) => pool === undefined || record.pool === pool);
    return Promise.all(
      records.map(async (record) => {
        const alive = await this.isAlive(record);
        if (alive && record.phase === 'pending') this.awaitReady(record);
        return toRunner(record, alive ? record.phase : phaseAfterExit(record.phase));
      }),
    );
  }

  async updateRunner(id: string, expectedVersion: string, patch: RunnerPatch): Promise<Runner> {
    if (patch.state !== undefined && !['warm', 'claimed', 'draining'].includes(patch.state)) {
      throw new McpWarmError('USAGE_INVALID', `unknown runner state ${JSON.stringify(patch.state)}`);
    }
    let conflict: RunnerRecord | undefined;
    const result = await this.store.update(id, (current) => {
      if (current.version !== expectedVersion) {
        conflict = current;
        return undefined;
      }
      const annotations = { ...current.annotations };
      for (const [key, value] of Object.entries(patch.annotations ?? {})) {
        if (value === null) delete annotations[key];
        else annotations[key] = value;
      }
      return { ...current, ...(patch.state !== undefined ? { state: patch.state } : {}), annotations };
    });
    if (result === undefined) throw new McpWarmError('RUNNER_NOT_FOUND', `no runner ${JSON.stringify(id)} on the process substrate`, { details: { id } });
    if (result.after === undefined) {
      throw new McpWarmError('RUNNER_CONFLICT', `runner ${id} is at version ${conflict?.version}, not ${expectedVersion}`, {
        details: { id, expectedVersion, version: conflict?.version },
      });
    }
    const runner = toRunner(result.after);
    this.emit({ type: 'modified', runner });
    return runner;
  }

  watch(listener: (event: RunnerEvent) => void): () => void {
    this.listeners.add(listener);
    this.schedulePoll();
    return () => {
      this.listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.closing.abort();
    clearTimeout(this.pollTimer);
    this.listeners.clear();
    await Promise.all([...this.waiting.values(), this.polling]);
  }

  private emit(event: RunnerEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // One listener's failure must not keep the others from hearing about the change.
      }
    }
  }

  private isAlive(record: RunnerRecord): Promise<boolean> {
    return isAgentProcess(record.pid, agentPaths(this.store.dirOf(record.id)).tokenFile);
  }

  /** Records a phase the substrate observed (with a new version) and tells the watchers. */
  private async setPhase(id: string, from: RunnerPhase, to: RunnerPhase, endpoint?: string): Promise<void> {
    const result = await this.store.update(id, (current) =>
      current.phase === from ? { ...current, phase: to, ...(endpoint !== undefined ? { endpoint } : {}) } : undefined,
    );
    if (result?.after !== undefined) this.emit({ type: 'modified', runner: toRunner(result.after) });
  }

  /** Waits in the background for a pending runner's agent to listen and be ready. */
  private awaitReady(record: RunnerRecord): void {
    if (this.waiting.has(record.id) || this.closing.signal.aborted) return;
    const done = this.waitForReady(record)
      .catch(() => undefined)
      .finally(() => this.waiting.delete(record.id));
    this.waiting.set(record.id, done);
  }

  private async waitForReady(record: RunnerRecord): Promise<void> {
    const { logFile } = agentPaths(this.store.dirOf(record.id));
    const deadline = Date.parse(record.createdAt) + this.readyTimeoutMs;
    let url: string | undefined;
    while (!this.closing.signal.aborted) {
      if ((await this.store.read(record.id))?.phase !== 'pending') return;
      if (!(await this.isAlive(record))) return this.setPhase(record.id, 'pending', 'failed');
      if (Date.now() > deadline) return this.setPhase(record.id, 'pending', 'failed');
      url ??= await readListeningUrl(logFile);
      if (url !== undefined && (await this.answersReady(url))) return this.setPhase(record.id, 'pending', 'running', url);
      await new Promise((resolve) => setTimeout(resolve, STEP_MS).unref());
    }
  }

  private async answersReady(url: string): Promise<boolean> {
    try {
      const response = await fetch(new URL('/ready', url), { signal: AbortSignal.any([this.closing.signal, AbortSignal.timeout(2000)]) });
      await response.body?.cancel();
      return response.status === 200;
    } catch {
      return false;
    }
  }

  private schedulePoll(): void {
    if (this.pollTimer !== undefined || this.closing.signal.aborted) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      if (this.listeners.size === 0 || this.closing.signal.aborted) return;
      this.polling = this.pollLiveness()
        .catch(() => undefined)
        .finally(() => {
          this.polling = undefined;
          this.schedulePoll();
        });
    }, this.pollIntervalMs);
    this.pollTimer.unref();
  }

  /** Notices agents that exited: a running runner becomes `gone`, a pending one `failed`. */
  private async pollLiveness(): Promise<void> {
    for (const record of await this.store.list()) {
      if (record.phase !== 'pending' && record.phase !== 'running') continue;
      if (await this.isAlive(record)) {
        if (record.phase === 'pending') this.awaitReady(record);
      } else {
        await this.setPhase(record.id, record.phase, phaseAfterExit(record.phase));
      }
    }
  }

  /** The last lines of a runner's agent log (why it failed). */
  async agentLog(id: string): Promise<string> {
    return logTail(agentPaths(this.store.dirOf(id)).logFile);
  }
}

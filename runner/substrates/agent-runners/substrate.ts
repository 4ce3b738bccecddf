/**
 * A substrate whose runners are agents it starts itself through an AgentHost (a local process, a
 * Docker container). Each runner's state lives on the controller's host in
 * `stateDir/runners/<id>/` (record, token, cache): the record holds the runner's state, version
 * and annotations (Docker labels cannot change after creation, so they are kept here for both),
 * and the handle of its agent, so a controller restarted on the same state directory recovers the
 * pool. The agent host is asked what is still running whenever runners are listed, and checked
 * periodically (and on its exit events) while someone watches.
 *
 * Compare-and-set is atomic among all callers of one substrate object; its lock is in memory, so
 * run one controller (one substrate object) per state directory at a time.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpWarmError } from '../../errors.js';
import type { Runner, RunnerEvent, RunnerPatch, RunnerPhase, RunnerTemplate, Substrate } from '../types.js';
import { validateTemplate } from './agent-flags.js';
import type { AgentHost, RunnerPaths } from './agent-host.js';
import { RunnerStore, type RunnerRecord } from './runner-store.js';

export interface AgentRunnerOptions {
  stateDir: string;
  /** How long a new agent has to answer GET /ready with 200 before its runner is `failed` (default 60 s). */
  readyTimeoutMs?: number;
  /** Time between SIGTERM and SIGKILL when a runner is deleted (default 10 s). */
  stopGraceMs?: number;
  /** Liveness check interval while someone watches (default 500 ms). */
  pollIntervalMs?: number;
}

const STEP_MS = 100;
const STATES: readonly string[] = ['warm', 'claimed', 'draining'];

export function runnerPaths(dir: string): RunnerPaths {
  return { dir, cacheDir: join(dir, 'cache'), tokenFile: join(dir, 'token') };
}

function toRunner<Handle>(record: RunnerRecord<Handle>, phase: RunnerPhase = record.phase): Runner {
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

export class AgentRunnerSubstrate<Handle> implements Substrate {
  readonly name: string;
  private readonly store: RunnerStore<Handle>;
  private readonly readyTimeoutMs: number;
  private readonly stopGraceMs: number;
  private readonly pollIntervalMs: number;
  private readonly listeners = new Set<(event: RunnerEvent) => void>();
  /** Runners between their directory and their record: their agents are not leftovers. */
  private readonly creating = new Set<string>();
  /** Runners whose readiness this substrate is waiting for. */
  private readonly waiting = new Map<string, Promise<void>>();
  private readonly closing = new AbortController();
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private pollAgain = false;
  private unwatchExits: (() => void) | undefined;

  constructor(
    private readonly host: AgentHost<Handle>,
    options: AgentRunnerOptions,
  ) {
    this.name = host.name;
    this.store = new RunnerStore(resolve(options.stateDir), (value) => host.parseHandle(value));
    this.readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
    this.stopGraceMs = options.stopGraceMs ?? 10_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
  }

  async createRunner(template: RunnerTemplate): Promise<Runner> {
    validateTemplate(template);
    const id = `runner-${randomBytes(6).toString('hex')}`;
    const dir = await this.store.makeDir(id);
    const paths = runnerPaths(dir);
    let agent: Handle | undefined;
    this.creating.add(id);
    try {
      await writeFile(paths.tokenFile, `${template.token}\n`, { mode: 0o600, flag: 'wx' });
      await mkdir(paths.cacheDir);
      agent = await this.host.start({ id, template, paths });
      const record = await this.store.create({ id, pool: template.pool, state: 'warm', phase: 'pending', annotations: {}, createdAt: new Date().toISOString(), agent });
      this.emit({ type: 'added', runner: toRunner(record) });
      this.awaitReady(record);
      return toRunner(record);
    } catch (error) {
      if (agent !== undefined) await this.host.stop(agent, paths, 0).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      throw error;
    } finally {
      this.creating.delete(id);
    }
  }

  async deleteRunner(id: string): Promise<void> {
    const removed = await this.store.remove(id, async (record) => {
      if (record !== undefined) await this.host.stop(record.agent, this.pathsOf(id), this.stopGraceMs);
    });
    if (removed !== undefined) this.emit({ type: 'deleted', runner: toRunner(removed, phaseAfterExit(removed.phase)) });
  }

  async listRunners(pool?: string): Promise<Runner[]> {
    const records = await this.store.list();
    const running = await this.survey(records);
    return records
      .filter((record) => pool === undefined || record.pool === pool)
      .map((record) => {
        const alive = running.has(record.id);
        if (alive && record.phase === 'pending') this.awaitReady(record);
        return toRunner(record, alive ? record.phase : phaseAfterExit(record.phase));
      });
  }

  async updateRunner(id: string, expectedVersion: string, patch: RunnerPatch): Promise<Runner> {
    if (patch.state !== undefined && !STATES.includes(patch.state)) {
      throw new McpWarmError('USAGE_INVALID', `unknown runner state ${JSON.stringify(patch.state)}`);
    }
    let conflict: RunnerRecord<Handle> | undefined;
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
    if (result === undefined) throw new McpWarmError('RUNNER_NOT_FOUND', `no runner ${JSON.stringify(id)} on the ${this.name} substrate`, { details: { id } });
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
    if (!this.closing.signal.aborted) this.unwatchExits ??= this.host.watchExits?.(() => this.pollNow());
    this.schedulePoll();
    return () => {
      this.listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.closing.abort();
    clearTimeout(this.pollTimer);
    this.unwatchExits?.();
    this.listeners.clear();
    await Promise.all([...this.waiting.values(), this.polling]);
    await this.host.close();
  }

  /** The last lines of a runner's agent output (why it failed). */
  async agentLog(id: string, lines = 10): Promise<string> {
    const record = await this.store.read(id);
    if (record === undefined) throw new McpWarmError('RUNNER_NOT_FOUND', `no runner ${JSON.stringify(id)} on the ${this.name} substrate`, { details: { id } });
    return this.host.logTail(record.agent, this.pathsOf(id), lines);
  }

  /** The ids of the runners whose agents run. */
  private survey(records: ReadonlyArray<RunnerRecord<Handle>>): Promise<Set<string>> {
    return this.host.survey(
      records.map((record) => ({ id: record.id, agent: record.agent, paths: this.pathsOf(record.id) })),
      this.isKnown,
    );
  }

  /** Checked when the host finds an agent: is its runner recorded, or being created? */
  private readonly isKnown = async (id: string): Promise<boolean> => this.creating.has(id) || (await this.store.read(id)) !== undefined;

  private pathsOf(id: string): RunnerPaths {
    return runnerPaths(this.store.dirOf(id));
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

  /** Records a phase the substrate observed (with a new version) and tells the watchers. */
  private async setPhase(id: string, from: RunnerPhase, to: RunnerPhase, endpoint?: string): Promise<void> {
    const result = await this.store.update(id, (current) =>
      current.phase === from ? { ...current, phase: to, ...(endpoint !== undefined ? { endpoint } : {}) } : undefined,
    );
    if (result?.after !== undefined) this.emit({ type: 'modified', runner: toRunner(result.after) });
  }

  /** Waits in the background for a pending runner's agent to listen and be ready. */
  private awaitReady(record: RunnerRecord<Handle>): void {
    if (this.waiting.has(record.id) || this.closing.signal.aborted) return;
    const done = this.waitForReady(record)
      .catch(() => undefined)
      .finally(() => this.waiting.delete(record.id));
    this.waiting.set(record.id, done);
  }

  private async waitForReady(record: RunnerRecord<Handle>): Promise<void> {
    const paths = this.pathsOf(record.id);
    const deadline = Date.parse(record.createdAt) + this.readyTimeoutMs;
    let url: string | undefined;
    while (!this.closing.signal.aborted) {
      if ((await this.store.read(record.id))?.phase !== 'pending') return;
      if (!(await this.host.isRunning(record.agent, paths))) return this.setPhase(record.id, 'pending', 'failed');
      if (Date.now() > deadline) return this.setPhase(record.id, 'pending', 'failed');
      url ??= await this.host.listeningUrl(record.agent, paths);
      if (url !== undefined && (await this.answersReady(url))) return this.setPhase(record.id, 'pending', 'running', url);
      // Unref'd so a waiting runner keeps no process alive, and cut short by close() so close never waits on it.
      await sleep(STEP_MS, undefined, { ref: false, signal: this.closing.signal }).catch(() => undefined);
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

  /** The next liveness check, after the interval, while someone watches. */
  private schedulePoll(): void {
    if (this.pollTimer !== undefined || this.polling !== undefined || this.closing.signal.aborted) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      if (this.listeners.size > 0) this.pollNow();
    }, this.pollIntervalMs);
    this.pollTimer.unref();
  }

  /** A liveness check now; one asked for while another runs follows it. */
  private pollNow(): void {
    if (this.closing.signal.aborted) return;
    if (this.polling !== undefined) {
      this.pollAgain = true;
      return;
    }
    clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    this.polling = this.pollLiveness()
      .catch(() => undefined)
      .finally(() => {
        this.polling = undefined;
        if (this.pollAgain) {
          this.pollAgain = false;
          this.pollNow();
        } else {
          this.schedulePoll();
        }
      });
  }

  /** Notices agents that exited: a running runner becomes `gone`, a pending one `failed`. */
  private async pollLiveness(): Promise<void> {
    const records = await this.store.list();
    const running = await this.survey(records);
    for (const record of records) {
      if (record.phase !== 'pending' && record.phase !== 'running') continue;
      if (running.has(record.id)) {
        if (record.phase === 'pending') this.awaitReady(record);
      } else {
        await this.setPhase(record.id, record.phase, phaseAfterExit(record.phase));
      }
    }
  }
}

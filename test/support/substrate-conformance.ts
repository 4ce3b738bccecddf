/**
 * What every substrate that runs runner agents itself must do, run against a real one by each
 * substrate's test file: creation until the agent answers /ready, the token it requires, pools,
 * compare-and-set under 50 concurrent claims, watch events in order, deletion that leaves no agent
 * and no directory, agents that exit on their own or before they are ready, bad templates and
 * agents that cannot start, and a controller restart on the same state directory.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRunnerSubstrate } from '../../runner/substrates/agent-runners/substrate.js';
import type { Runner, RunnerEvent } from '../../runner/substrates/types.js';
import { caught } from './caught.js';

export interface ConformanceTarget {
  name: string;
  /** The test file's work directory (made before the suite runs). */
  work(): string;
  /** A substrate on `stateDir`; `agentCommand` replaces the runner agent's program (its flags follow). */
  make(stateDir: string, options?: { agentCommand?: string[] }): AgentRunnerSubstrate<unknown>;
  /** An agent program that writes `agent cannot start: boom` and exits 3 before it listens. */
  failingAgentCommand: string[];
  /** An agent program that does not exist. */
  missingAgentCommand: string[];
  /**
   * Whether a missing agent program fails createRunner itself (a process cannot be spawned), or
   * only shows once the runner started (a container starts its init, which then cannot run it).
   */
  missingAgentFailsCreate: boolean;
  /** Whether the agent a record names still exists (its process, its container). */
  agentExists(agent: unknown): Promise<boolean>;
  /** Kills the agent a record names from outside the substrate, as a crash would. */
  killAgent(agent: unknown): Promise<void>;
  /** Everything of agents started for `stateDir` that is still there (processes, containers), described. */
  agentsOf(stateDir: string): Promise<string[]>;
}

export const CONFORMANCE_TOKEN = 'substrate-test-token-0123456789';

export async function recordedAgent(stateDir: string, id: string): Promise<unknown> {
  return (JSON.parse(await readFile(join(stateDir, 'runners', id, 'runner.json'), 'utf8')) as { agent: unknown }).agent;
}

/** Polls the substrate's list until the runner matches (the list is the truth a controller reads). */
export async function waitForRunner(on: AgentRunnerSubstrate<unknown>, id: string, matches: (runner: Runner) => boolean, timeoutMs = 30_000): Promise<Runner> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const runner = (await on.listRunners()).find((candidate) => candidate.id === id);
    if (runner !== undefined && matches(runner)) return runner;
    if (Date.now() > deadline) throw new Error(`runner ${id} never matched; last seen ${JSON.stringify(runner)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function httpStatus(url: string, token?: string): Promise<number> {
  const response = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  await response.body?.cancel();
  return response.status;
}

export function describeSubstrateConformance(target: ConformanceTarget): void {
  describe(`${target.name} substrate conformance`, () => {
    let substrate: AgentRunnerSubstrate<unknown>;
    let stateDir: string;
    const events: RunnerEvent[] = [];
    const made: Array<AgentRunnerSubstrate<unknown>> = [];
    let first: Runner;
    let second: Runner;

    const newSubstrate = (dir: string, options?: { agentCommand?: string[] }): AgentRunnerSubstrate<unknown> => {
      const created = target.make(dir, options);
      made.push(created);
      return created;
    };

    async function waitForEvent(matches: (event: RunnerEvent) => boolean, timeoutMs = 15_000): Promise<RunnerEvent> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.find(matches);
        if (found !== undefined) return found;
        if (Date.now() > deadline) throw new Error(`no such event among ${JSON.stringify(events.map((e) => [e.type, e.runner.id, e.runner.phase]))}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }

    beforeAll(() => {
      stateDir = join(target.work(), 'conformance');
      substrate = newSubstrate(stateDir);
      substrate.watch((event) => events.push(event));
    });

    afterAll(async () => {
      for (const each of made) {
        for (const runner of await each.listRunners()) await each.deleteRunner(runner.id);
        await each.close();
      }
    });

    it('creates a runner that turns running with an agent that requires its token', async () => {
      first = await substrate.createRunner({ pool: 'pool-a', token: CONFORMANCE_TOKEN });
      expect(first).toMatchObject({ pool: 'pool-a', state: 'warm', phase: 'pending', annotations: {}, version: '1' });
      expect(first.id).toMatch(/^runner-[0-9a-f]+$/);
      expect(first.endpoint).toBeUndefined();
      expect((await stat(join(stateDir, 'runners', first.id, 'token'))).mode & 0o777).toBe(0o600);

      const running = await waitForEvent((event) => event.runner.id === first.id && event.runner.phase === 'running', 40_000);
      expect(running.type).toBe('modified');
      expect(running.runner.version).toBe('2');
      expect(running.runner.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      first = running.runner;
      const endpoint = first.endpoint as string;
      expect(await httpStatus(`${endpoint}/health`)).toBe(200);
      expect(await httpStatus(`${endpoint}/instances`)).toBe(401);
      expect(await httpStatus(`${endpoint}/instances`, 'wrong-token')).toBe(401);
      expect(await httpStatus(`${endpoint}/instances`, CONFORMANCE_TOKEN)).toBe(200);
    }, 60_000);

    it('lists runners by pool', async () => {
      second = await substrate.createRunner({ pool: 'pool-b', token: CONFORMANCE_TOKEN });
      expect((await substrate.listRunners('pool-a')).map((runner) => runner.id)).toEqual([first.id]);
      expect((await substrate.listRunners('pool-b')).map((runner) => runner.id)).toEqual([second.id]);
      expect((await substrate.listRunners()).map((runner) => runner.id).sort()).toEqual([first.id, second.id].sort());
      expect(await substrate.listRunners('pool-none')).toEqual([]);
    });

    it('lets exactly one of 50 concurrent compare-and-set updates win', async () => {
      const current = await waitForRunner(substrate, first.id, (runner) => runner.phase === 'running');
      const attempts = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => substrate.updateRunner(first.id, current.version, { state: 'claimed', annotations: { activation: `a-${i}` } })),
      );
      const won = attempts.filter((attempt): attempt is PromiseFulfilledResult<Runner> => attempt.status === 'fulfilled');
      const lost = attempts.filter((attempt): attempt is PromiseRejectedResult => attempt.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(49);
      for (const attempt of lost) expect(attempt.reason).toMatchObject({ code: 'RUNNER_CONFLICT' });
      const winner = won[0]!.value;
      expect(winner.version).toBe(String(Number(current.version) + 1));
      expect(winner.state).toBe('claimed');
      const listed = (await substrate.listRunners('pool-a'))[0];
      expect(listed).toMatchObject({ version: winner.version, state: 'claimed', annotations: winner.annotations });
    });

    it('removes annotations set to null, and refuses a stale version or a missing runner', async () => {
      const [current] = await substrate.listRunners('pool-a');
      const released = await substrate.updateRunner(first.id, current!.version, { state: 'warm', annotations: { activation: null, note: 'kept' } });
      expect(released).toMatchObject({ state: 'warm', annotations: { note: 'kept' } });
      expect((await caught(substrate.updateRunner(first.id, current!.version, { state: 'draining' }))).code).toBe('RUNNER_CONFLICT');
      expect((await caught(substrate.updateRunner('runner-missing', '1', {}))).code).toBe('RUNNER_NOT_FOUND');
      expect((await caught(substrate.updateRunner('../../etc', '1', {}))).code).toBe('RUNNER_NOT_FOUND');
    });

    it('deletes a runner: no agent, no directory, a deleted event after the others in order', async () => {
      const agent = await recordedAgent(stateDir, first.id);
      await substrate.deleteRunner(first.id);
      expect(await target.agentExists(agent)).toBe(false);
      expect(existsSync(join(stateDir, 'runners', first.id))).toBe(false);
      expect(await substrate.listRunners('pool-a')).toEqual([]);
      await substrate.deleteRunner(first.id);
      await substrate.deleteRunner('runner-never-was');

      const mine = events.filter((event) => event.runner.id === first.id);
      expect(mine.map((event) => [event.type, event.runner.phase, event.runner.state])).toEqual([
        ['added', 'pending', 'warm'],
        ['modified', 'running', 'warm'],
        ['modified', 'running', 'claimed'],
        ['modified', 'running', 'warm'],
        ['deleted', 'gone', 'warm'],
      ]);
      expect(mine.slice(0, 4).map((event) => event.runner.version)).toEqual(['1', '2', '3', '4']);
    });

    it('reports an agent killed from outside as gone, in the list and to watchers', async () => {
      await waitForRunner(substrate, second.id, (runner) => runner.phase === 'running', 40_000);
      await target.killAgent(await recordedAgent(stateDir, second.id));
      const gone = await waitForEvent((event) => event.runner.id === second.id && event.runner.phase === 'gone');
      expect(gone.type).toBe('modified');
      expect((await substrate.listRunners('pool-b'))[0]?.phase).toBe('gone');
      await substrate.deleteRunner(second.id);
      expect(existsSync(join(stateDir, 'runners', second.id))).toBe(false);
      expect(await target.agentsOf(stateDir)).toEqual([]);
    }, 60_000);

    it('marks a runner whose agent exits before ready as failed and keeps its log', async () => {
      const dir = join(target.work(), 'failing');
      const failing = newSubstrate(dir, { agentCommand: target.failingAgentCommand });
      const runner = await failing.createRunner({ pool: 'pool-f', token: CONFORMANCE_TOKEN });
      expect(runner.phase).toBe('pending');
      await waitForRunner(failing, runner.id, (listed) => listed.phase === 'failed', 20_000);
      expect(await failing.agentLog(runner.id)).toContain('boom');
      await failing.deleteRunner(runner.id);
      expect(await readdir(join(dir, 'runners'))).toEqual([]);
      expect(await target.agentsOf(dir)).toEqual([]);
    });

    it('refuses a bad template with USAGE_INVALID and leaves nothing behind', async () => {
      const dir = join(target.work(), 'strict');
      const strict = newSubstrate(dir);
      expect((await caught(strict.createRunner({ pool: 'bad pool/..', token: CONFORMANCE_TOKEN }))).code).toBe('USAGE_INVALID');
      expect((await caught(strict.createRunner({ pool: 'ok', token: '  ' }))).code).toBe('USAGE_INVALID');
      expect(existsSync(dir)).toBe(false);
    });

    it('fails a runner whose agent program does not exist, and leaves no directory and no agent', async () => {
      const dir = join(target.work(), 'broken');
      const broken = newSubstrate(dir, { agentCommand: target.missingAgentCommand });
      if (target.missingAgentFailsCreate) {
        expect((await caught(broken.createRunner({ pool: 'p', token: CONFORMANCE_TOKEN }))).code).toBe('SUBSTRATE_FAILED');
      } else {
        const runner = await broken.createRunner({ pool: 'p', token: CONFORMANCE_TOKEN });
        await waitForRunner(broken, runner.id, (listed) => listed.phase === 'failed', 20_000);
        expect(await broken.agentLog(runner.id)).toContain(target.missingAgentCommand[0]);
        await broken.deleteRunner(runner.id);
      }
      expect(await readdir(join(dir, 'runners'))).toEqual([]);
      expect(await target.agentsOf(dir)).toEqual([]);
    });

    it('lets a restarted controller on the same state directory find, resume and delete runners', async () => {
      const dir = join(target.work(), 'restart');
      const before = newSubstrate(dir);
      const runner = await before.createRunner({ pool: 'pool-r', token: CONFORMANCE_TOKEN });
      await before.close();

      const after = newSubstrate(dir);
      const found = await waitForRunner(after, runner.id, (listed) => listed.phase === 'running', 40_000);
      expect(found).toMatchObject({ pool: 'pool-r', state: 'warm', createdAt: runner.createdAt });
      expect(await httpStatus(`${found.endpoint}/health`)).toBe(200);
      const claimed = await after.updateRunner(runner.id, found.version, { state: 'claimed' });
      expect(claimed.state).toBe('claimed');

      const agent = await recordedAgent(dir, runner.id);
      await after.deleteRunner(runner.id);
      expect(await target.agentExists(agent)).toBe(false);
      expect(await readdir(join(dir, 'runners'))).toEqual([]);
      expect(await target.agentsOf(dir)).toEqual([]);
    }, 60_000);
  });
}

/**
 * The process substrate with real runner agents: creation until the agent answers /ready, the
 * token it requires, pools, compare-and-set under 50 concurrent claims, watch events in order,
 * deletion that leaves no process and no directory, a controller restart on the same state
 * directory, and agents that exit on their own. Checked in /proc: no agent outlives the file.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessSubstrate } from '../runner/substrates/process/index.js';
import type { Runner, RunnerEvent } from '../runner/substrates/types.js';
import { caught } from './support/caught.js';

const TOKEN = 'substrate-test-token-0123456789';
let work: string;
let substrate: ProcessSubstrate;
const events: RunnerEvent[] = [];
const others: ProcessSubstrate[] = [];

function newSubstrate(stateDir: string, extra: Partial<ConstructorParameters<typeof ProcessSubstrate>[0]> = {}): ProcessSubstrate {
  const made = new ProcessSubstrate({ stateDir, stopGraceMs: 5000, pollIntervalMs: 100, ...extra });
  others.push(made);
  return made;
}

/** Polls the substrate's list until the runner matches (the list is the truth a controller reads). */
async function waitForRunner(on: ProcessSubstrate, id: string, matches: (runner: Runner) => boolean, timeoutMs = 30_000): Promise<Runner> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const runner = (await on.listRunners()).find((candidate) => candidate.id === id);
    if (runner !== undefined && matches(runner)) return runner;
    if (Date.now() > deadline) throw new Error(`runner ${id} never matched; last seen ${JSON.stringify(runner)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function waitForEvent(matches: (event: RunnerEvent) => boolean, timeoutMs = 10_000): Promise<RunnerEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = events.find(matches);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no such event among ${JSON.stringify(events.map((e) => [e.type, e.runner.id, e.runner.phase]))}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function recordOf(stateDir: string, id: string): Promise<{ pid: number }> {
  return JSON.parse(await readFile(join(stateDir, 'runners', id, 'runner.json'), 'utf8')) as { pid: number };
}

/** Processes whose command line names a path under the test's work directory (every agent does). */
async function agentProcesses(): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(work)) found.push(`${entry}: ${cmdline.replace(/\0/g, ' ')}`);
  }
  return found;
}

async function processExists(pid: number): Promise<boolean> {
  const state = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return state !== undefined && state.slice(state.lastIndexOf(')') + 2)[0] !== 'Z';
}

async function get(url: string, token?: string): Promise<number> {
  const response = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  await response.body?.cancel();
  return response.status;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mcpwarm-substrate-process-'));
  substrate = new ProcessSubstrate({ stateDir: join(work, 'state'), stopGraceMs: 5000, pollIntervalMs: 100 });
  substrate.watch((event) => events.push(event));
});

afterAll(async () => {
  for (const each of [substrate, ...others]) {
    for (const runner of await each.listRunners()) await each.deleteRunner(runner.id);
    await each.close();
  }
  expect(await agentProcesses()).toEqual([]);
  await rm(work, { recursive: true, force: true });
});

describe('process substrate', () => {
  let first: Runner;
  let second: Runner;

  it('creates a runner that turns running with an agent that requires its token', async () => {
    first = await substrate.createRunner({ pool: 'pool-a', token: TOKEN });
    expect(first).toMatchObject({ pool: 'pool-a', state: 'warm', phase: 'pending', annotations: {}, version: '1' });
    expect(first.id).toMatch(/^runner-[0-9a-f]+$/);
    expect(first.endpoint).toBeUndefined();
    const tokenFile = join(work, 'state/runners', first.id, 'token');
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);

    const running = await waitForEvent((event) => event.runner.id === first.id && event.runner.phase === 'running', 30_000);
    expect(running.type).toBe('modified');
    expect(running.runner.version).toBe('2');
    expect(running.runner.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    first = running.runner;
    const endpoint = first.endpoint as string;
    expect(await get(`${endpoint}/health`)).toBe(200);
    expect(await get(`${endpoint}/instances`)).toBe(401);
    expect(await get(`${endpoint}/instances`, 'wrong-token')).toBe(401);
    expect(await get(`${endpoint}/instances`, TOKEN)).toBe(200);
  }, 40_000);

  it('lists runners by pool', async () => {
    second = await substrate.createRunner({ pool: 'pool-b', token: TOKEN });
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

  it('deletes a runner: no process, no directory, a deleted event after the others in order', async () => {
    const { pid } = await recordOf(join(work, 'state'), first.id);
    await substrate.deleteRunner(first.id);
    expect(await processExists(pid)).toBe(false);
    expect(existsSync(join(work, 'state/runners', first.id))).toBe(false);
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
    await waitForRunner(substrate, second.id, (runner) => runner.phase === 'running');
    const { pid } = await recordOf(join(work, 'state'), second.id);
    process.kill(pid, 'SIGKILL');
    const gone = await waitForEvent((event) => event.runner.id === second.id && event.runner.phase === 'gone');
    expect(gone.type).toBe('modified');
    expect((await substrate.listRunners('pool-b'))[0]?.phase).toBe('gone');
    await substrate.deleteRunner(second.id);
    expect(existsSync(join(work, 'state/runners', second.id))).toBe(false);
  });

  it('marks a runner whose agent exits before ready as failed and keeps its log', async () => {
    const failing = newSubstrate(join(work, 'failing'), { agentCommand: [process.execPath, '-e', "console.error('agent cannot start: boom'); process.exit(3)", '--'] });
    const runner = await failing.createRunner({ pool: 'pool-f', token: TOKEN });
    expect(runner.phase).toBe('pending');
    await waitForRunner(failing, runner.id, (listed) => listed.phase === 'failed', 10_000);
    expect(await failing.agentLog(runner.id)).toContain('boom');
    await failing.deleteRunner(runner.id);
    expect(await readdir(join(work, 'failing/runners'))).toEqual([]);
  });

  it('refuses a bad template with USAGE_INVALID and leaves nothing behind', async () => {
    const strict = newSubstrate(join(work, 'strict'));
    expect((await caught(strict.createRunner({ pool: 'bad pool/..', token: TOKEN }))).code).toBe('USAGE_INVALID');
    expect((await caught(strict.createRunner({ pool: 'ok', token: '  ' }))).code).toBe('USAGE_INVALID');
    expect(existsSync(join(work, 'strict'))).toBe(false);
  });

  it('refuses a command that cannot start with SUBSTRATE_FAILED and leaves no directory', async () => {
    const broken = newSubstrate(join(work, 'broken'), { agentCommand: [join(work, 'no-such-agent')] });
    expect((await caught(broken.createRunner({ pool: 'p', token: TOKEN }))).code).toBe('SUBSTRATE_FAILED');
    expect(await readdir(join(work, 'broken/runners'))).toEqual([]);
  });

  it('lets a restarted controller on the same state directory find, resume and delete runners', async () => {
    const stateDir = join(work, 'restart');
    const before = newSubstrate(stateDir);
    const runner = await before.createRunner({ pool: 'pool-r', token: TOKEN });
    await before.close();

    const after = newSubstrate(stateDir);
    const found = await waitForRunner(after, runner.id, (listed) => listed.phase === 'running');
    expect(found).toMatchObject({ pool: 'pool-r', state: 'warm', createdAt: runner.createdAt });
    expect(await get(`${found.endpoint}/health`)).toBe(200);
    const claimed = await after.updateRunner(runner.id, found.version, { state: 'claimed' });
    expect(claimed.state).toBe('claimed');

    const { pid } = await recordOf(stateDir, runner.id);
    await after.deleteRunner(runner.id);
    expect(await processExists(pid)).toBe(false);
    expect(await readdir(join(stateDir, 'runners'))).toEqual([]);
  }, 40_000);
});

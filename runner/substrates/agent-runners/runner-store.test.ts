import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRunnerId, RunnerStore, type RunnerRecord } from './runner-store.js';

let stateDir: string;
let store: RunnerStore<{ pid: number }>;

/** The handles of these tests: `{pid}` with a whole number. */
function parsePid(value: unknown): { pid: number } | undefined {
  const pid = (value as { pid?: unknown } | null)?.pid;
  return typeof pid === 'number' && Number.isInteger(pid) ? { pid } : undefined;
}

function record(id: string, createdAt = '2025-01-01T00:00:00.000Z'): Omit<RunnerRecord<{ pid: number }>, 'version'> {
  return { id, pool: 'p', state: 'warm', phase: 'pending', annotations: {}, createdAt, agent: { pid: 4242 } };
}

async function created(id: string, createdAt?: string): Promise<RunnerRecord<{ pid: number }>> {
  await store.makeDir(id);
  return store.create(record(id, createdAt));
}

beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'mcpwarm-runner-store-'));
  store = new RunnerStore(stateDir, parsePid);
});

afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

describe('isRunnerId', () => {
  it('accepts Kubernetes-style names and refuses path tricks', () => {
    expect(isRunnerId('runner-0a1b2c')).toBe(true);
    for (const bad of ['', '..', '../x', 'a/b', 'Runner', '-a', 'a-', 'a'.repeat(64), 'a b']) expect(isRunnerId(bad), bad).toBe(false);
  });
});

describe('RunnerStore', () => {
  it('writes the first record at version 1 and reads it back', async () => {
    const first = await created('runner-a');
    expect(first.version).toBe('1');
    expect(await store.read('runner-a')).toEqual(first);
    expect(JSON.parse(await readFile(join(stateDir, 'runners/runner-a/runner.json'), 'utf8'))).toEqual(first);
  });

  it('refuses a second directory for a taken id', async () => {
    await store.makeDir('runner-a');
    await expect(store.makeDir('runner-a')).rejects.toMatchObject({ code: 'EEXIST' });
  });

  it('counts versions up on every change and leaves no temp file', async () => {
    await created('runner-a');
    for (let i = 0; i < 3; i++) await store.update('runner-a', (current) => ({ ...current, annotations: { n: String(i) } }));
    const current = await store.read('runner-a');
    expect(current?.version).toBe('4');
    expect(current?.annotations).toEqual({ n: '2' });
    expect(await readdir(join(stateDir, 'runners/runner-a'))).toEqual(['runner.json']);
  });

  it('writes nothing when the change declines', async () => {
    await created('runner-a');
    const result = await store.update('runner-a', () => undefined);
    expect(result?.after).toBeUndefined();
    expect((await store.read('runner-a'))?.version).toBe('1');
  });

  it('runs concurrent changes one after another (each sees the one before)', async () => {
    await created('runner-a');
    const results = await Promise.all(
      Array.from({ length: 50 }, () => store.update('runner-a', (current) => (current.version === '1' ? { ...current, state: 'claimed' } : undefined))),
    );
    expect(results.filter((result) => result?.after !== undefined)).toHaveLength(1);
    expect((await store.read('runner-a'))?.version).toBe('2');
  });

  it('answers undefined for a missing runner or an invalid id', async () => {
    expect(await store.read('runner-missing')).toBeUndefined();
    expect(await store.read('../etc')).toBeUndefined();
    expect(await store.update('runner-missing', (current) => current)).toBeUndefined();
  });

  it('lists records oldest first and skips directories without a valid record', async () => {
    await created('runner-b', '2025-01-02T00:00:00.000Z');
    await created('runner-a', '2025-01-03T00:00:00.000Z');
    await store.makeDir('runner-half-made');
    await store.makeDir('runner-bad');
    await writeFile(join(stateDir, 'runners/runner-bad/runner.json'), '{"id":"runner-bad"}');
    await store.makeDir('runner-other-handle');
    await writeFile(join(stateDir, 'runners/runner-other-handle/runner.json'), JSON.stringify({ ...record('runner-other-handle'), version: '1', agent: { containerId: 'c' } }));
    expect((await store.list()).map((r) => r.id)).toEqual(['runner-b', 'runner-a']);
  });

  it('lists nothing before the first runner', async () => {
    expect(await store.list()).toEqual([]);
  });

  it('removes the directory after the stop step, and only a valid id', async () => {
    await created('runner-a');
    const stopped: Array<string | undefined> = [];
    const removed = await store.remove('runner-a', async (current) => {
      stopped.push(current?.id);
    });
    expect(removed?.id).toBe('runner-a');
    expect(stopped).toEqual(['runner-a']);
    expect(await readdir(join(stateDir, 'runners'))).toEqual([]);
    expect(await store.remove('..', async () => undefined)).toBeUndefined();
    expect(await readdir(stateDir)).toEqual(['runners']);
  });
});

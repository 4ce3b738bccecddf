/**
 * Runner records of the substrates that run agents themselves: one `runners/<id>/runner.json` per
 * runner, so a controller that restarts on the same state directory finds every runner an earlier
 * one made. Each record holds the handle its agent host needs to find the agent again (a pid, a
 * container id).
 *
 * Writes are atomic (temp file + rename: a reader sees the old record or the new one, never half
 * of one), and every change to a runner runs under that runner's lock, so a compare-and-set is
 * atomic against any other change made through this store. The lock is in memory: one store
 * (one controller) per state directory.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Runner, RunnerPhase, RunnerState } from '../types.js';

/** What is stored: the runner as last written (its phase as last observed) and its agent's handle. */
export interface RunnerRecord<Handle> extends Omit<Runner, 'phase'> {
  phase: RunnerPhase;
  agent: Handle;
}

const ID_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const RUNNER_STATES: readonly RunnerState[] = ['warm', 'claimed', 'draining'];
const RUNNER_PHASES: readonly RunnerPhase[] = ['pending', 'running', 'failed', 'gone'];

/** A valid runner id (also a safe single path segment: no `/`, no `..`). */
export function isRunnerId(id: string): boolean {
  return ID_PATTERN.test(id);
}

function isRecord<Handle>(value: unknown, parseHandle: (value: unknown) => Handle | undefined): value is RunnerRecord<Handle> {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    typeof record.id === 'string' &&
    typeof record.pool === 'string' &&
    RUNNER_STATES.includes(record.state as RunnerState) &&
    RUNNER_PHASES.includes(record.phase as RunnerPhase) &&
    (record.endpoint === undefined || typeof record.endpoint === 'string') &&
    typeof record.annotations === 'object' &&
    record.annotations !== null &&
    typeof record.createdAt === 'string' &&
    typeof record.version === 'string' &&
    parseHandle(record.agent) !== undefined
  );
}

export class RunnerStore<Handle> {
  private readonly locks = new Map<string, Promise<unknown>>();

  /** `parseHandle` tells a stored agent handle (undefined: not one, the record is not valid). */
  constructor(
    readonly stateDir: string,
    private readonly parseHandle: (value: unknown) => Handle | undefined,
  ) {}

  get runnersDir(): string {
    return join(this.stateDir, 'runners');
  }

  dirOf(id: string): string {
    return join(this.runnersDir, id);
  }

  /** Makes the runner's directory; fails if the id is taken. */
  async makeDir(id: string): Promise<string> {
    await mkdir(this.runnersDir, { recursive: true });
    const dir = this.dirOf(id);
    await mkdir(dir);
    return dir;
  }

  /** The record, or undefined when there is none (missing, invalid id, or no readable record). */
  async read(id: string): Promise<RunnerRecord<Handle> | undefined> {
    if (!isRunnerId(id)) return undefined;
    let text: string;
    try {
      text = await readFile(join(this.dirOf(id), 'runner.json'), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const parsed: unknown = JSON.parse(text);
    return isRecord(parsed, this.parseHandle) && parsed.id === id ? parsed : undefined;
  }

  /** Every runner with a record; a directory without one (a creation cut short) is skipped. */
  async list(): Promise<RunnerRecord<Handle>[]> {
    let ids: string[];
    try {
      ids = await readdir(this.runnersDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const records = await Promise.all(ids.filter(isRunnerId).map((id) => this.read(id)));
    return records.filter((record): record is RunnerRecord<Handle> => record !== undefined).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Writes a new runner's first record (version "1"). */
  async create(record: Omit<RunnerRecord<Handle>, 'version'>): Promise<RunnerRecord<Handle>> {
    return this.locked(record.id, async () => {
      const created: RunnerRecord<Handle> = { ...record, version: '1' };
      await this.write(created);
      return created;
    });
  }

  /**
   * Runs `change` on the current record under the runner's lock. It returns the changed record
   * (stored with the next version), or undefined to leave the record as it is. Resolves to
   * `{before, after}`, `after` being undefined when nothing was written; undefined when there is
   * no record.
   */
  async update(
    id: string,
    change: (current: RunnerRecord<Handle>) => Omit<RunnerRecord<Handle>, 'version'> | undefined,
  ): Promise<{ before: RunnerRecord<Handle>; after: RunnerRecord<Handle> | undefined } | undefined> {
    return this.locked(id, async () => {
      const before = await this.read(id);
      if (before === undefined) return undefined;
      const changed = change(before);
      if (changed === undefined) return { before, after: undefined };
      const after: RunnerRecord<Handle> = { ...changed, id, version: String(Number(before.version) + 1) };
      await this.write(after);
      return { before, after };
    });
  }

  /** Removes the runner's directory after `stop` ran, under the runner's lock. */
  async remove(id: string, stop: (record: RunnerRecord<Handle> | undefined) => Promise<void>): Promise<RunnerRecord<Handle> | undefined> {
    if (!isRunnerId(id)) return undefined;
    return this.locked(id, async () => {
      const record = await this.read(id);
      await stop(record);
      await rm(this.dirOf(id), { recursive: true, force: true });
      return record;
    });
  }

  private async write(record: RunnerRecord<Handle>): Promise<void> {
    const path = join(this.dirOf(record.id), 'runner.json');
    const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(temp, `${JSON.stringify(record, null, 2)}\n`, { flag: 'wx' });
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  /** Runs `task` after every earlier task on the same runner has settled. */
  private locked<T>(id: string, task: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(id) ?? Promise.resolve();
    const result = previous.then(task, task);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(id, settled);
    void settled.then(() => {
      if (this.locks.get(id) === settled) this.locks.delete(id);
    });
    return result;
  }
}

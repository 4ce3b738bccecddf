/**
 * What every sandbox shares: checking the launch spec, spawning the runtime with piped stdio,
 * waiting until the server itself runs (a runtime that gives up first fails the launch, with its
 * output), and stopping (stdin closed, then SIGTERM, then SIGKILL, within the grace period; then
 * the launch's cleanup). A launch either returns a running server or leaves nothing behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rmdir } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { CleanupStack } from '../cleanup-stack.js';
import { McpWarmError, isMcpWarmError } from '../errors.js';
import { DEFAULT_PATH } from './image-user.js';
import type { ExitStatus, LaunchSpec, SandboxName, SandboxedProcess } from './types.js';

/** How long a runtime may take to start the server before the launch is given up. */
export const LAUNCH_TIMEOUT_MS = 30_000;
/** How long to wait for a killed server to be reaped before cleaning up regardless. */
const KILL_WAIT_MS = 10_000;
const POLL_INTERVAL_MS = 5;
const MAX_LAUNCH_OUTPUT_BYTES = 16 * 1024;
const ID_PATTERN = /^[a-z0-9-]{1,64}$/;

export type StopSignal = 'SIGTERM' | 'SIGKILL';

function invalidSpec(message: string, spec: LaunchSpec): McpWarmError {
  return new McpWarmError('SANDBOX_LAUNCH_FAILED', `invalid launch spec: ${message}`, { details: { id: spec.id } });
}

/** The spec's invariants the sandboxes rely on (the id names directories and cgroups). */
export function checkLaunchSpec(spec: LaunchSpec): void {
  if (!ID_PATTERN.test(spec.id)) throw invalidSpec(`id ${JSON.stringify(spec.id)} is not [a-z0-9-]{1,64}`, spec);
  if (spec.argv.length === 0) throw invalidSpec('argv is empty', spec);
  if (!spec.rootfs.startsWith('/') || !spec.workDir.startsWith('/')) throw invalidSpec('rootfs and workDir must be absolute paths', spec);
  if (!spec.cwd.startsWith('/')) throw invalidSpec(`cwd ${JSON.stringify(spec.cwd)} is not an absolute path`, spec);
  const bad = spec.env.find((item) => item.indexOf('=') < 1);
  if (bad !== undefined) throw invalidSpec(`env item ${JSON.stringify(bad)} is not KEY=VALUE`, spec);
  const ids = [spec.user.uid, spec.user.gid, ...spec.user.additionalGids];
  if (!ids.every((id) => Number.isInteger(id) && id >= 0 && id < 0xffffffff)) throw invalidSpec('user ids must be whole numbers', spec);
}

/** KEY=VALUE items as a record (a later item wins). */
export function envRecord(env: readonly string[]): Record<string, string> {
  return Object.fromEntries(env.map((item) => [item.slice(0, item.indexOf('=')), item.slice(item.indexOf('=') + 1)]));
}

/** The PATH programs are looked up in. */
export function envPath(env: Record<string, string>): string {
  return env.PATH ?? DEFAULT_PATH;
}

/**
 * setpriv(1) options that give a root process the spec's groups, supplementary ones included, and
 * (with `uid`) its user; no_new_privs keeps setuid programs from raising the server's privileges.
 */
export function setprivArgs(user: LaunchSpec['user'], options: { uid: boolean }): string[] {
  const groups = user.additionalGids.length > 0 ? `--groups=${user.additionalGids.join(',')}` : '--clear-groups';
  return [...(options.uid ? [`--reuid=${user.uid}`] : []), `--regid=${user.gid}`, groups, '--no-new-privs', '--'];
}

/** Sends `signal` to `pid`; a process that is already gone is not an error. */
export function signalPid(pid: number, signal: StopSignal): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Calls `check` every few milliseconds until it yields a value; rejects when `signal` aborts. */
export async function pollFor<T>(check: () => Promise<T | undefined>, signal: AbortSignal): Promise<T> {
  for (;;) {
    signal.throwIfAborted();
    const value = await check();
    if (value !== undefined) return value;
    await sleep(POLL_INTERVAL_MS, undefined, { signal });
  }
}

/**
 * Resolves with `pid` once that process is past the host wrappers it starts as (a cgroup-joining
 * shell, setpriv, unshare) and runs the server: when its command line is none of the wrappers'.
 * `stages` are the command lines the process has while in each wrapper, outermost first.
 */
export function waitPastWrappers(pid: number, stages: ReadonlyArray<readonly string[]>, signal: AbortSignal): Promise<number> {
  const wrapperLines = new Set(stages.map((stage) => stage.map((arg) => `${arg}\0`).join('')));
  return pollFor(async () => {
    try {
      const line = await readFile(`/proc/${pid}/cmdline`, 'utf8');
      // Empty once it has exited: the launch then fails on the exit.
      return line === '' || wrapperLines.has(line) ? undefined : pid;
    } catch {
      return undefined;
    }
  }, signal);
}

/** True when `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  const timeout = sleep(ms, 'timeout' as const, { signal: timer.signal }).catch(() => 'timeout' as const);
  const first = await Promise.race([promise.then(() => 'settled' as const), timeout]);
  timer.abort();
  return first === 'settled';
}

/** Runs the stack; throws the first failure once every step has run. */
async function runCleanup(cleanup: CleanupStack): Promise<void> {
  const failures = await cleanup.run();
  if (failures.length > 0) {
    const { what, error } = failures[0]!;
    throw new Error(`cleanup of ${what} failed: ${(error as Error).message}`, { cause: error });
  }
}

async function removeIfEmpty(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch (error) {
    if (!['ENOENT', 'ENOTEMPTY', 'EEXIST'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
  }
}

/** How one runtime is started and driven, as built by a sandbox for one launch. */
export interface RuntimeLaunch {
  /** [file, ...args] of the host command that starts the server. */
  command: readonly string[];
  env: Record<string, string>;
  /** Host working directory of the command. */
  cwd: string;
  /** Pipes beyond stdio that the runtime gets as fds 3, 4, ... (for its arguments and reports). */
  extraPipes?: number;
  /** Talks to the runtime once spawned (as `pid`); resolves with the server's host pid when the server runs. */
  started(child: ChildProcess, pid: number, signal: AbortSignal): Promise<number>;
  /** Delivers a stop signal to the server, through the runtime where it has its own way. */
  signal(serverPid: number, child: ChildProcess, signal: StopSignal): Promise<void> | void;
}

const launchesInProgress = new Set<string>();

/**
 * Runs one launch: checks the spec, claims its id within this process, lets `build` set up what
 * the runtime needs (pushing how to undo each step on `cleanup`), and starts it. On success the
 * stack belongs to the process's stop(); on any failure it is run before the error is thrown.
 */
export async function launchWith(
  sandbox: SandboxName,
  spec: LaunchSpec,
  build: (cleanup: CleanupStack) => Promise<RuntimeLaunch>,
): Promise<SandboxedProcess> {
  checkLaunchSpec(spec);
  if (launchesInProgress.has(spec.id)) {
    throw new McpWarmError('SANDBOX_LAUNCH_FAILED', `instance ${spec.id} is already running in this process`, { details: { id: spec.id } });
  }
  launchesInProgress.add(spec.id);
  const cleanup = new CleanupStack();
  cleanup.push('launch id', () => launchesInProgress.delete(spec.id));
  try {
    return await startRuntime(sandbox, spec, await build(cleanup), cleanup);
  } catch (error) {
    await cleanup.run();
    if (isMcpWarmError(error)) throw error;
    throw new McpWarmError('SANDBOX_LAUNCH_FAILED', `${sandbox} could not prepare the launch of ${spec.id}: ${(error as Error).message}`, {
      cause: error,
      details: { sandbox, id: spec.id },
    });
  }
}

/** The first bytes the runtime wrote on stderr: the reason, when it fails to start the server. */
class LaunchOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  readonly add = (chunk: Buffer): void => {
    if (this.size >= MAX_LAUNCH_OUTPUT_BYTES) return;
    this.chunks.push(chunk.subarray(0, MAX_LAUNCH_OUTPUT_BYTES - this.size));
    this.size += chunk.length;
  };

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8').trimEnd();
  }
}

async function startRuntime(sandbox: SandboxName, spec: LaunchSpec, launch: RuntimeLaunch, cleanup: CleanupStack): Promise<SandboxedProcess> {
  const [file, ...args] = launch.command;
  const child = spawn(file!, args, {
    env: launch.env,
    cwd: launch.cwd,
    stdio: ['pipe', 'pipe', 'pipe', ...Array<'pipe'>(launch.extraPipes ?? 0).fill('pipe')],
  });
  let status: ExitStatus | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => resolve((status = { code, signal })));
    // Not spawned at all: there will be no 'exit'.
    child.once('error', () => resolve((status = { code: null, signal: null })));
  });
  // Writes after the server is gone must not crash the caller with EPIPE; they are simply lost.
  child.stdin!.on('error', () => undefined);
  // stderr goes through a PassThrough so the launch can read its start without taking it from the caller.
  const stderr = new PassThrough();
  child.stderr!.pipe(stderr);
  const output = new LaunchOutput();
  child.stderr!.on('data', output.add);

  const giveUp = new AbortController();
  try {
    const spawnError = await new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', resolve);
    });
    if (spawnError) throw spawnError;
    const ready = launch.started(child, child.pid!, giveUp.signal);
    ready.catch(() => undefined);
    const outcome = await Promise.race([
      ready.then((pid) => ({ pid })),
      exited.then(() => ({ pid: undefined })),
      sleep(LAUNCH_TIMEOUT_MS, { pid: undefined }, { signal: giveUp.signal }).catch(() => ({ pid: undefined })),
    ]);
    if (outcome.pid === undefined) {
      const exit: ExitStatus | undefined = status;
      throw new Error(
        exit ? `the runtime exited (${exit.signal ?? `code ${exit.code}`}) before the server started` : `the server did not start within ${LAUNCH_TIMEOUT_MS} ms`,
      );
    }
    const pid = outcome.pid;
    return {
      pid,
      stdin: child.stdin!,
      stdout: child.stdout!,
      stderr,
      exited,
      stop: stopOnce(async (graceMs) => {
        try {
          // Closing stdin is how MCP's stdio transport asks a server to shut down; a server that
          // does not exit gets SIGTERM halfway through the grace period and SIGKILL at its end.
          child.stdin!.end();
          if (await settlesWithin(exited, graceMs / 2)) return;
          await launch.signal(pid, child, 'SIGTERM');
          if (await settlesWithin(exited, graceMs / 2)) return;
          await launch.signal(pid, child, 'SIGKILL');
          await settlesWithin(exited, KILL_WAIT_MS);
        } finally {
          await runCleanup(cleanup);
          // The caller's scratch directory goes with the launch's own files in it (a failed launch leaves it to the caller).
          await removeIfEmpty(spec.workDir);
        }
      }),
    };
  } catch (error) {
    if (status === undefined) {
      child.kill('SIGKILL');
      await settlesWithin(exited, KILL_WAIT_MS);
    }
    const text = output.text();
    throw new McpWarmError(
      'SANDBOX_LAUNCH_FAILED',
      `${sandbox} could not start ${spec.argv[0]}: ${(error as Error).message}${text ? `\n${text}` : ''}`,
      { cause: error, details: { sandbox, id: spec.id, command: launch.command, output: text, exit: status } },
    );
  } finally {
    giveUp.abort();
    child.stderr!.off('data', output.add);
  }
}

function stopOnce(stop: (graceMs: number) => Promise<void>): (graceMs: number) => Promise<void> {
  let stopping: Promise<void> | undefined;
  return (graceMs) => (stopping ??= stop(graceMs));
}

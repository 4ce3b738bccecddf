/**
 * Backends that are local stdio children: the command runs in a process group of its own, its
 * stderr is drained into a ring buffer (a full pipe would stall the server), and it is ready once
 * it has answered `initialize`. Stopping closes its stdin (the stdio transport's shutdown signal),
 * then sends SIGTERM halfway through the grace period and SIGKILL at its end, to the whole group,
 * so nothing the command started outlives it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpWarmError } from '../../../errors.js';
import { findExecutable } from '../../../exec.js';
import type { ClientDeclaration } from '../../../mcp/http/session.js';
import { probeReadiness } from '../../../mcp/initialize.js';
import { StderrBuffer } from '../../../mcp/stderr-buffer.js';
import { StdioMcpConnection } from '../../../mcp/stdio-connection.js';
import type { ExitStatus } from '../../../sandbox/types.js';
import type { BackendSource, BackendStartOptions, RunningBackend } from '../types.js';

export interface StdioBackendOptions {
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** How long a server may take to answer initialize. */
  readinessTimeoutMs: number;
  /** From closing stdin to SIGKILL. */
  stopGraceMs: number;
}

/** Kept per backend: enough for error messages, small enough for thousands of backends. */
const STDERR_BUFFER_BYTES = 64 * 1024;
/** After the exit, how long stderr may take to deliver its last lines to a failure message. */
const STDERR_DRAIN_MS = 200;

const COMMAND_HINT = 'The command after -- must name an executable: a path, or a program found in PATH.';

/** The command's program as a path, or ENTRYPOINT_NOT_FOUND. */
function resolveProgram(command: string): string {
  if (command.includes('/')) {
    try {
      accessSync(command, constants.X_OK);
      return command;
    } catch (error) {
      throw new McpWarmError('ENTRYPOINT_NOT_FOUND', `cannot run ${command}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { hint: COMMAND_HINT });
    }
  }
  const found = findExecutable(command);
  if (found === undefined) throw new McpWarmError('ENTRYPOINT_NOT_FOUND', `${command} is not found in PATH`, { hint: COMMAND_HINT });
  return found;
}

function clientInfoOf(client: ClientDeclaration | undefined): { name: string; version: string } | undefined {
  const info = client?.clientInfo;
  return typeof info?.name === 'string' && typeof info.version === 'string' ? { name: info.name, version: info.version } : undefined;
}

/** Sends `signal` to the child's process group; a group that is already gone is not an error. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // gone already
  }
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  const outcome = await Promise.race([promise.then(() => true), sleep(ms, false, { signal: timer.signal }).catch(() => false)]);
  timer.abort();
  return outcome;
}

export class StdioBackendSource implements BackendSource {
  readonly description: string;
  private readonly program: string;

  constructor(private readonly options: StdioBackendOptions) {
    this.program = resolveProgram(options.command);
    this.description = `stdio: ${[options.command, ...options.args].join(' ')}`;
  }

  async start(startOptions: BackendStartOptions = {}): Promise<RunningBackend> {
    const child = spawn(this.program, [...this.options.args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      ...(this.options.env ? { env: this.options.env } : {}),
      ...(this.options.cwd ? { cwd: this.options.cwd } : {}),
    });
    // Writes after the server is gone must not crash the proxy with EPIPE; they are simply lost.
    child.stdin!.on('error', () => undefined);
    const exited = new Promise<ExitStatus>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const closed = new Promise<ExitStatus>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
    const stderr = new StderrBuffer(child.stderr!, STDERR_BUFFER_BYTES);
    const spawnError = await new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', resolve);
    });
    if (spawnError) {
      const code = (spawnError as NodeJS.ErrnoException).code === 'ENOENT' ? 'ENTRYPOINT_NOT_FOUND' : 'SERVER_EXITED';
      throw new McpWarmError(code, `cannot start ${this.options.command}: ${spawnError.message}`, { hint: COMMAND_HINT });
    }
    const connection = new StdioMcpConnection({ stdin: child.stdin!, stdout: child.stdout!, exited });
    const stop = this.stopper(child, connection, exited);
    try {
      const clientInfo = clientInfoOf(startOptions.client);
      const readiness = await probeReadiness(connection, {
        timeoutMs: this.options.readinessTimeoutMs,
        stderrTail: () => stderr.tail(20),
        // The tail is complete once stderr has closed; a grandchild holding it open must not hold up the failure.
        exited: Promise.race([closed, exited.then((status) => sleep(STDERR_DRAIN_MS, status))]),
        ...(startOptions.client ? { capabilities: startOptions.client.capabilities } : {}),
        ...(clientInfo ? { clientInfo } : {}),
      });
      return { channel: connection, initializeResult: readiness.initializeResult, label: `pid ${child.pid}`, stop };
    } catch (error) {
      await stop();
      throw error;
    }
  }

  private stopper(child: ChildProcess, connection: StdioMcpConnection, exited: Promise<ExitStatus>): () => Promise<void> {
    let stopping: Promise<void> | undefined;
    const graceMs = this.options.stopGraceMs;
    return () =>
      (stopping ??= (async () => {
        connection.close('the proxy stopped this backend');
        if (!(await settlesWithin(exited, graceMs / 2))) {
          signalGroup(child, 'SIGTERM');
          if (!(await settlesWithin(exited, graceMs / 2))) signalGroup(child, 'SIGKILL');
          await exited;
        }
        // Whatever the server started in its group goes with it.
        signalGroup(child, 'SIGKILL');
      })());
  }
}

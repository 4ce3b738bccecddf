/**
 * A runner agent as a local process: how it is started, how to tell it is still the agent we
 * started (a pid can be reused once it exits), where it listens, and how it is stopped.
 */
import { spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { McpWarmError } from '../../errors.js';
import { agentFlags, listeningUrlIn } from '../agent-runners/agent-flags.js';
import type { RunnerTemplate } from '../types.js';

/**
 * `mcpwarm agent` from the compiled CLI or, when this module runs as TypeScript source (tests),
 * from the CLI's source behind tsx's loader.
 */
export function defaultAgentCommand(): string[] {
  if (!import.meta.url.endsWith('.ts')) return [process.execPath, fileURLToPath(new URL('../../../harness/cli/main.js', import.meta.url)), 'agent'];
  return [process.execPath, '--import', 'tsx', fileURLToPath(new URL('../../../harness/cli/main.ts', import.meta.url)), 'agent'];
}

/** The agent's working directory: the tree it was started from, where `--import tsx` resolves. */
export const AGENT_CWD = fileURLToPath(new URL('../../../', import.meta.url));

export interface AgentPaths {
  cacheDir: string;
  tokenFile: string;
  logFile: string;
}

/** Flags for one runner's agent, on a free loopback port. */
export function agentArgs(template: RunnerTemplate, paths: AgentPaths): string[] {
  return agentFlags(template, { host: '127.0.0.1', port: 0, cacheDir: paths.cacheDir, tokenFile: paths.tokenFile });
}

/**
 * Starts the agent in its own session with its output in the log file, so it outlives the
 * controller that started it. Resolves with its pid once it has been spawned.
 */
export async function spawnAgent(command: string[], args: string[], logFile: string): Promise<number> {
  const [program, ...programArgs] = command;
  if (program === undefined) throw new McpWarmError('USAGE_INVALID', 'the agent command is empty');
  const log = await open(logFile, 'a', 0o600);
  try {
    const child = spawn(program, [...programArgs, ...args], { cwd: AGENT_CWD, detached: true, stdio: ['ignore', log.fd, log.fd] });
    return await new Promise<number>((resolve, reject) => {
      child.once('error', (error) =>
        reject(new McpWarmError('SUBSTRATE_FAILED', `cannot start the runner agent (${[program, ...programArgs].join(' ')}): ${error.message}`, { cause: error })),
      );
      child.once('spawn', () => {
        child.unref();
        resolve(child.pid as number);
      });
    });
  } finally {
    await log.close();
  }
}

/** The pid is alive and is still the agent started with this token file (not a reused pid). */
export async function isAgentProcess(pid: number, tokenFile: string): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    // A zombie's cmdline is empty, so an exited but unreaped agent counts as gone.
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return args.includes(`--token-file=${tokenFile}`);
  } catch {
    return false;
  }
}

const LOG_HEAD_BYTES = 64 * 1024;

/** The URL the agent printed when it started listening, if it has yet. */
export async function readListeningUrl(logFile: string): Promise<string | undefined> {
  const handle = await open(logFile, 'r');
  try {
    const buffer = Buffer.alloc(LOG_HEAD_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, LOG_HEAD_BYTES, 0);
    return listeningUrlIn(buffer.subarray(0, bytesRead).toString('utf8'));
  } finally {
    await handle.close();
  }
}

/** The last lines of the agent's log, for error messages. */
export async function logTail(logFile: string, lines = 10): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

async function waitGone(pid: number, tokenFile: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await isAgentProcess(pid, tokenFile))) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * SIGTERM (the agent stops its instances), then after `graceMs` SIGKILL to its whole process group
 * (the agent and whatever it started that stayed in its group); resolves when the agent is gone.
 */
export async function stopAgent(pid: number, tokenFile: string, graceMs: number): Promise<void> {
  if (!(await isAgentProcess(pid, tokenFile))) return;
  signal(pid, 'SIGTERM');
  if (await waitGone(pid, tokenFile, graceMs)) return;
  signal(-pid, 'SIGKILL');
  signal(pid, 'SIGKILL');
  if (!(await waitGone(pid, tokenFile, 5000))) {
    throw new McpWarmError('SUBSTRATE_FAILED', `runner agent pid ${pid} did not exit after SIGKILL`, { details: { pid } });
  }
}

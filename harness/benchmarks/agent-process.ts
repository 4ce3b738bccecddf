/** A runner agent as its own process, started the way the process substrate starts runners, for benchmarks. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpWarmError } from '../../runner/errors.js';
import { agentArgs, defaultAgentCommand, isAgentProcess, logTail, readListeningUrl, spawnAgent, stopAgent } from '../../runner/substrates/process/agent-process.js';

export interface AgentProcess {
  url: string;
  pid: number;
  token: string;
  /** Resident set size in bytes, from /proc. */
  rssBytes(): Promise<number>;
  stop(): Promise<void>;
}

export interface AgentProcessOptions {
  dir: string;
  sandbox: string;
  token: string;
  /** The agent program (default: this tree's `mcpwarm agent`); another revision's build to compare two side by side. */
  command?: string[];
  /** More agent flags, such as `--inject-delay-ms=20`. */
  extraArgs?: string[];
  /** How long the agent may take to listen (default 15 s; a heavily loaded machine needs more). */
  startTimeoutMs?: number;
}

/** Starts `mcpwarm agent` with its cache, token file and log under `dir`. */
export async function startAgentProcess(options: AgentProcessOptions): Promise<AgentProcess> {
  await mkdir(options.dir, { recursive: true });
  const paths = { cacheDir: join(options.dir, 'cache'), tokenFile: join(options.dir, 'token'), logFile: join(options.dir, 'agent.log') };
  await writeFile(paths.tokenFile, options.token, { mode: 0o600 });
  const args = [...agentArgs({ pool: 'bench', token: options.token, sandbox: options.sandbox }, paths), ...(options.extraArgs ?? [])];
  const pid = await spawnAgent(options.command ?? defaultAgentCommand(), args, paths.logFile);
  const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
  let url: string | undefined;
  while ((url = await readListeningUrl(paths.logFile)) === undefined) {
    if (Date.now() > deadline || !(await isAgentProcess(pid, paths.tokenFile))) {
      await stopAgent(pid, paths.tokenFile, 1000);
      throw new McpWarmError('SERVICE_UNREACHABLE', `the agent did not start:\n${await logTail(paths.logFile)}`);
    }
    await sleep(25);
  }
  return {
    url,
    pid,
    token: options.token,
    rssBytes: async () => {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
    },
    stop: () => stopAgent(pid, paths.tokenFile, 5000),
  };
}

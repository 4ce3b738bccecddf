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

/** Starts `mcpwarm agent` with its cache, token file and log under `dir`. */
export async function startAgentProcess(options: { dir: string; sandbox: string; token: string }): Promise<AgentProcess> {
  await mkdir(options.dir, { recursive: true });
  const paths = { cacheDir: join(options.dir, 'cache'), tokenFile: join(options.dir, 'token'), logFile: join(options.dir, 'agent.log') };
  await writeFile(paths.tokenFile, options.token, { mode: 0o600 });
  const pid = await spawnAgent(defaultAgentCommand(), agentArgs({ pool: 'bench', token: options.token, sandbox: options.sandbox }, paths), paths.logFile);
  const deadline = Date.now() + 15_000;
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

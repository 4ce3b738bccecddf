/** A runner agent as its own process (compiled CLI), as it runs in production, for benchmarks. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { McpWarmError } from '../../runner/errors.js';

export interface AgentProcess {
  url: string;
  pid: number;
  token: string;
  /** Resident set size in bytes, from /proc. */
  rssBytes(): Promise<number>;
  stop(): Promise<void>;
}

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export async function startAgentProcess(options: { cacheDir: string; sandbox: string; token: string; extraArgs?: string[] }): Promise<AgentProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [CLI, 'agent', '--port', '0', '--cache', options.cacheDir, '--sandbox', options.sandbox, ...(options.extraArgs ?? [])],
    { env: { ...process.env, MCPWARM_TOKEN: options.token }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new McpWarmError('SERVICE_UNREACHABLE', `agent did not start in 15 s:\n${log}`)), 15_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new McpWarmError('SERVICE_UNREACHABLE', `agent exited with ${code} before listening:\n${log}`));
    });
  });
  return {
    url,
    pid: child.pid!,
    token: options.token,
    rssBytes: async () => {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
    },
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

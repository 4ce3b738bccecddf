/** Time from spawning an MCP stdio server (any command: a bare server, `docker run -i`, a chroot) to its answer to initialize. */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { probeReadiness } from '../../runner/mcp/initialize.js';
import { StdioMcpConnection } from '../../runner/mcp/stdio-connection.js';

/** Spawns argv, resolves with the ms until initialize was answered; the process is killed and reaped after. */
export async function timeToInitialize(argv: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<number> {
  const start = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
  // 'close' comes after stderr ended, so the tail quoted in a failure is complete.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
    // A program that cannot be spawned never closes.
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const connection = new StdioMcpConnection(child);
  try {
    await probeReadiness(connection, { timeoutMs: options.timeoutMs ?? 60_000, stderrTail: () => stderr, exited });
    return performance.now() - start;
  } finally {
    connection.close();
    child.kill('SIGKILL');
    await exited;
  }
}

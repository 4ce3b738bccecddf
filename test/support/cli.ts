/** Runs the mcpwarm CLI from source as a child process, as a user would run it. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = fileURLToPath(new URL('../../harness/cli/main.ts', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON when it is JSON. */
  json: unknown;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json });
    });
  });
}

/**
 * Runs the CLI until its stderr matches `ready` (or it exits first), then runs `whileRunning` and
 * presses Ctrl-C (SIGINT); resolves once it has exited.
 */
export async function interruptCli(args: string[], ready: RegExp, whileRunning: () => Promise<void> = async () => undefined): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((started) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (ready.test(stderr)) started();
    });
    void exited.then(() => started());
  });
  try {
    await whileRunning();
  } finally {
    child.kill('SIGINT');
  }
  const code = await exited;
  return { code, stderr };
}

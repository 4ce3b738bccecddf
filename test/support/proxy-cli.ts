/** `mcpwarm proxy` run from source as a user runs it, and a /proc scan for the processes it started. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = fileURLToPath(new URL('../../harness/cli/main.ts', import.meta.url));

export interface ProxyCli {
  url: string;
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** The exit code (or the signal name) once it has exited. */
  exited: Promise<number | string | null>;
}

/** Starts `mcpwarm proxy ARGS` and resolves once it prints `listening on http://...` on stderr. */
export function startProxyCli(args: string[], timeoutMs = 90_000): Promise<ProxyCli> {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'proxy', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | string | null>((resolve) => child.on('close', (code, signal) => resolve(code ?? signal)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the proxy did not start listening within ${timeoutMs} ms; stderr:\n${stderr}`));
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const url = /listening on (http:\/\/\S+)/.exec(stderr)?.[1];
      if (!url) return;
      clearTimeout(timer);
      resolve({ url, child, stdout: () => stdout, stderr: () => stderr, exited });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the proxy exited (${code}) before listening; stderr:\n${stderr}`));
    });
  });
}

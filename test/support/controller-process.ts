/** `mcpwarm controller` as a process of its own (from source, as test/support/cli.ts runs the CLI), for restart and log tests. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = fileURLToPath(new URL('../../harness/cli/main.ts', import.meta.url));

export interface ControllerProcess {
  url: string;
  pid: number;
  /** Everything it wrote on stderr so far. */
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `mcpwarm controller ARGS` and resolves once it listens (rejects with its stderr if it exits first). */
export function startControllerProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ControllerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'controller', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /controller listening on (http:\/\/\S+)/.exec(stderr);
      if (match) {
        resolve({
          url: match[1]!,
          pid: child.pid!,
          stderr: () => stderr,
          exited,
          kill: (signal) => {
            child.kill(signal);
            return exited;
          },
        });
      }
    });
    void exited.then(({ code, signal }) => reject(new Error(`the controller exited (${code ?? signal}) before listening:\n${stderr}`)));
  });
}

/** Running system tools (mount, mknod, setfattr, tar, skopeo): errors carry the pasteable command and its output. */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { McpWarmError } from './errors.js';

const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Absolute path of an executable found in PATH or the usual system directories, or undefined. */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SYSTEM_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Like findExecutable, but a missing tool is a coded error naming the Debian package to install. */
export function requireExecutable(name: string, debianPackage: string): string {
  const path = findExecutable(name);
  if (path === undefined) {
    throw new McpWarmError('TOOL_MISSING', `${name} is not installed`, {
      hint: `apt-get install ${debianPackage} (make setup does it when run as root)`,
    });
  }
  return path;
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly output: string,
  ) {
    super(`command failed (exit ${exitCode ?? 'signal'}): ${command}${output ? `\n${output.trimEnd()}` : ''}`);
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
}

/** Runs a command to completion; resolves with its stdout, rejects with CommandError (stdout and stderr). */
export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const command = [file, ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (error) => reject(new CommandError(command, null, error.message)));
    child.on('close', (code) => {
      const out = Buffer.concat(stdout).toString('utf8');
      if (code === 0) resolve(out);
      else reject(new CommandError(command, code, out + Buffer.concat(stderr).toString('utf8')));
    });
    if (child.stdin) {
      // A child that exits without reading its input must not crash this process with EPIPE.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
  });
}

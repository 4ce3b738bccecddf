/**
 * A base revision built beside the working tree: `git worktree add` into a scratch directory,
 * `npm ci` and the TypeScript build there, and the worktree removed afterwards (also when the
 * build fails), so the gate can run the base's agent next to this tree's.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CleanupStack } from '../../runner/cleanup-stack.js';
import { McpWarmError } from '../../runner/errors.js';
import { CommandError, requireExecutable, run } from '../../runner/exec.js';

async function git(args: string[], cwd?: string): Promise<string> {
  return (await run(requireExecutable('git', 'git'), args, cwd === undefined ? {} : { cwd })).trim();
}

/** The repository's top directory and the full commit id `revision` names; USAGE_INVALID when either is not there. */
export async function resolveRevision(revision: string, cwd: string): Promise<{ top: string; commit: string }> {
  let top: string;
  try {
    top = await git(['rev-parse', '--show-toplevel'], cwd);
  } catch (error) {
    throw new McpWarmError('USAGE_INVALID', `${cwd} is not inside a git checkout: the gate builds the base revision from it`, { cause: error });
  }
  try {
    return { top, commit: await git(['rev-parse', '--verify', '--quiet', `${revision}^{commit}`], top) };
  } catch (error) {
    throw new McpWarmError('USAGE_INVALID', `${revision} is not a revision of ${top}`, { cause: error });
  }
}

/**
 * Checks `commit` out into `dir` as a detached worktree for `body`, and removes it afterwards (the
 * removal is registered on `cleanups` too, for an interrupted run).
 */
export async function withWorktree<T>(top: string, commit: string, dir: string, cleanups: CleanupStack, body: (dir: string) => Promise<T>): Promise<T> {
  const remove = async () => {
    await git(['worktree', 'remove', '--force', dir], top).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    await git(['worktree', 'prune'], top).catch(() => undefined);
  };
  cleanups.push(`the worktree ${dir}`, remove);
  try {
    await git(['worktree', 'add', '--detach', dir, commit], top);
    return await body(dir);
  } finally {
    await remove();
  }
}

/** `npm ci` and the build of a checkout of this project; returns the command that runs its agent. */
export async function buildCheckout(dir: string, progress: (line: string) => void): Promise<string[]> {
  const steps: Array<[string, string, string[]]> = [
    ['npm ci', requireExecutable('npm', 'npm'), ['ci', '--no-audit', '--no-fund']],
    ['TypeScript build', join(dir, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json']],
  ];
  for (const [what, program, args] of steps) {
    progress(`base revision: ${what}`);
    try {
      await run(program, args, { cwd: dir });
    } catch (error) {
      // npm's output can run to thousands of lines; the end says what failed.
      const detail = (error instanceof CommandError ? error.message : String(error)).split('\n').slice(-40).join('\n');
      throw new McpWarmError('BUILD_STEP_FAILED', `building the base revision failed at ${what}: ${detail}`, { cause: error });
    }
  }
  return [process.execPath, join(dir, 'dist', 'harness', 'cli', 'main.js'), 'agent'];
}

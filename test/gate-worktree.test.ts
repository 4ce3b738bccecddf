/**
 * The same-job gate's base checkout on a real git repository made for the test: the revision
 * resolved, checked out as a worktree, and the worktree gone afterwards, also when the work fails.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CleanupStack } from '../runner/cleanup-stack.js';
import { run } from '../runner/exec.js';
import { resolveRevision, withWorktree } from '../harness/gate/base-build.js';

let root: string;
let repo: string;
let first: string;

const git = async (args: string[]) => (await run('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.invalid', ...args], { cwd: repo })).trim();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mcpwarm-gate-worktree-'));
  repo = join(root, 'repo');
  await run('git', ['init', '--quiet', repo]);
  await writeFile(join(repo, 'version.txt'), 'one\n');
  await git(['add', 'version.txt']);
  await git(['commit', '--quiet', '-m', 'one']);
  first = await git(['rev-parse', 'HEAD']);
  await writeFile(join(repo, 'version.txt'), 'two\n');
  await git(['commit', '--quiet', '-am', 'two']);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('base revision checkout', () => {
  it('resolves a revision to its commit, relative names included', async () => {
    expect(await resolveRevision('HEAD~1', join(repo))).toEqual({ top: repo, commit: first });
  });

  it('refuses what is not a revision or not a checkout with USAGE_INVALID', async () => {
    await expect(resolveRevision('no-such-branch', repo)).rejects.toMatchObject({ code: 'USAGE_INVALID', message: expect.stringContaining('no-such-branch') });
    await expect(resolveRevision('HEAD', root)).rejects.toMatchObject({ code: 'USAGE_INVALID', message: expect.stringContaining('not inside a git checkout') });
  });

  it('checks the base out beside the working tree and removes it afterwards', async () => {
    const dir = join(root, 'base');
    const seen = await withWorktree(repo, first, dir, new CleanupStack(), async (tree) => readFile(join(tree, 'version.txt'), 'utf8'));
    expect(seen).toBe('one\n');
    expect(existsSync(dir)).toBe(false);
    expect(await git(['worktree', 'list', '--porcelain'])).not.toContain(dir);
    // The working tree itself is untouched.
    expect(await readFile(join(repo, 'version.txt'), 'utf8')).toBe('two\n');
  });

  it('removes the worktree when the work fails', async () => {
    const dir = join(root, 'failing');
    await expect(
      withWorktree(repo, first, dir, new CleanupStack(), async () => {
        throw new Error('build failed');
      }),
    ).rejects.toThrow('build failed');
    expect(existsSync(dir)).toBe(false);
    expect(await git(['worktree', 'list', '--porcelain'])).not.toContain(dir);
  });
});

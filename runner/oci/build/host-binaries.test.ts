import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findExecutable } from '../../exec.js';
import { collectHostFile, hostCommandEntries, hostCommandPath, parseLddOutput } from './host-binaries.js';
import type { LayerEntry } from './layers.js';

describe('parseLddOutput', () => {
  it('lists library paths and the loader, skipping the vDSO', () => {
    const glibc = [
      '\tlinux-vdso.so.1 (0x00007ffc3b5f2000)',
      '\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f53c4e4f000)',
      '\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f53c4c00000)',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f53c4e67000)',
      '',
    ].join('\n');
    expect(parseLddOutput(glibc)).toEqual(['/lib/x86_64-linux-gnu/libdl.so.2', '/lib/x86_64-linux-gnu/libstdc++.so.6', '/lib64/ld-linux-x86-64.so.2']);
    const musl = '\t/lib/ld-musl-x86_64.so.1 (0x7f0d1c2a4000)\n\tlibc.musl-x86_64.so.1 => /lib/ld-musl-x86_64.so.1 (0x7f0d1c2a4000)\n';
    expect(parseLddOutput(musl)).toEqual(['/lib/ld-musl-x86_64.so.1']);
  });

  it('fails on a library ldd cannot find', () => {
    expect(() => parseLddOutput('\tlibssl.so.3 => not found\n')).toThrow('ldd: shared library libssl.so.3 not found');
  });
});

describe('collectHostFile', () => {
  let root: string;
  beforeEach(async () => {
    // realpath: the temp dir itself may sit behind a symlink on some hosts.
    root = await realpath(await mkdtemp(join(tmpdir(), 'node-runtime-test-')));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('keeps every symlink met, mid-path and final, next to the file it leads to', async () => {
    await mkdir(join(root, 'usr/lib/x86_64'), { recursive: true });
    await writeFile(join(root, 'usr/lib/x86_64/libfoo.so.1.2.3'), 'elf');
    await symlink('libfoo.so.1.2.3', join(root, 'usr/lib/x86_64/libfoo.so.1'));
    await symlink('usr/lib', join(root, 'lib'));
    await symlink(join(root, 'lib/x86_64/libfoo.so.1'), join(root, 'loader'));
    const entries = new Map<string, LayerEntry>();
    await collectHostFile(join(root, 'loader'), entries);
    expect([...entries.values()].map((entry) => [entry.path.slice(root.length), entry.type === 'symlink' ? entry.target : entry.type])).toEqual([
      ['/loader', join(root, 'lib/x86_64/libfoo.so.1')],
      ['/lib', 'usr/lib'],
      ['/usr/lib/x86_64/libfoo.so.1', 'libfoo.so.1.2.3'],
      ['/usr/lib/x86_64/libfoo.so.1.2.3', 'file'],
    ]);
    expect(entries.get(join(root, 'usr/lib/x86_64/libfoo.so.1.2.3'))).toMatchObject({ mode: 0o644, uid: 0, gid: 0 });
  });

  it('fails on symlink loops and on paths that are not regular files', async () => {
    await symlink('b', join(root, 'a'));
    await symlink('a', join(root, 'b'));
    await expect(collectHostFile(join(root, 'a'), new Map())).rejects.toThrow(/too many levels of symbolic links/);
    await expect(collectHostFile(root, new Map())).rejects.toThrow(`${root} is not a regular file`);
    await expect(collectHostFile(join(root, 'missing'), new Map())).rejects.toThrow(/ENOENT/);
  });
});

describe('hostCommandPath', () => {
  it('looks names up on PATH and takes absolute paths as they are', () => {
    expect(hostCommandPath('sh')).toBe(findExecutable('sh'));
    expect(hostCommandPath('/bin/sh')).toBe('/bin/sh');
    expect(hostCommandPath('mcpwarm-no-such-command')).toBeUndefined();
  });
});

describe('hostCommandEntries', () => {
  it.skipIf(!findExecutable('ldd') && process.env.CI !== 'true')('collects each program with the libraries it loads and the symlinks on its path', async () => {
    const entries = await hostCommandEntries(['/bin/sh', 'mount']);
    const byPath = new Map(entries.map((entry) => [entry.path, entry]));
    const mount = await realpath(findExecutable('mount')!);
    expect(byPath.get(mount)).toMatchObject({ type: 'file', mode: 0o755, content: { hostPath: mount } });
    // /bin/sh is a name the program is called by: kept, as a file or through the symlinks leading to one.
    const shell = byPath.get('/bin/sh') ?? byPath.get('/bin');
    expect(shell).toBeDefined();
    expect(entries.some((entry) => entry.type === 'file' && /\/libmount\.so/.test(entry.path))).toBe(true);
    expect(entries.some((entry) => /\/ld-(linux|musl)[^/]*\.so/.test(entry.path))).toBe(true);
    expect(new Set(entries.map((entry) => entry.path)).size).toBe(entries.length);
  });

  it('fails naming a command that is not on PATH', async () => {
    await expect(hostCommandEntries(['sh', 'mcpwarm-no-such-command'])).rejects.toThrow('command mcpwarm-no-such-command is not on this host');
  });
});

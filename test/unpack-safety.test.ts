/**
 * Hostile layers against the real filesystem: every escape is refused or contained, and a
 * sentinel directory outside the unpack target is checked to be exactly as it was.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { McpWarmError, type ErrorCode } from '../runner/errors.js';
import { overlayAvailable } from '../runner/oci/overlay.js';
import { composeRootfs, releaseRootfs, type ComposeMode } from '../runner/oci/rootfs.js';
import { tarBuffer, type TarEntry } from '../runner/oci/tar-writer.js';
import { unpackLayer, type LayerContents } from '../runner/oci/unpack.js';

const inCi = process.env.CI === 'true';
let base: string;
let outside: string;
let sentinelBefore: string;
let overlay: boolean;
let counter = 0;
/** A name for /etc that no test run can collide with. */
const etcName = `mcpwarm-unpack-safety-${randomBytes(6).toString('hex')}`;

/** Every path under `dir` with its type and content: any write there changes it. */
function listing(dir: string): string {
  const lines: string[] = [];
  const walk = (path: string, relative: string): void => {
    for (const name of readdirSync(path).sort()) {
      const full = join(path, name);
      const stats = lstatSync(full);
      const content = stats.isFile() ? readFileSync(full, 'utf8') : '';
      lines.push(`${relative}${name} ${stats.mode.toString(8)} ${stats.size} ${stats.mtimeMs} ${content}`);
      if (stats.isDirectory()) walk(full, `${relative}${name}/`);
    }
  };
  walk(dir, '');
  return lines.join('\n');
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'mcpwarm-unpack-safety-'));
  outside = join(base, 'outside');
  mkdirSync(join(outside, 'nested'), { recursive: true });
  writeFileSync(join(outside, 'file'), 'sentinel\n');
  writeFileSync(join(outside, 'nested', 'deep'), 'deep sentinel\n');
  sentinelBefore = listing(outside);
  overlay = await overlayAvailable();
});

afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});

afterEach(() => {
  expect(listing(outside)).toBe(sentinelBefore);
  expect(existsSync(join(base, 'x'))).toBe(false);
  expect(existsSync(join('/etc', etcName))).toBe(false);
});

/** base/layers/N/fs: a '..' from inside climbs to base/layers/N, two climb to base/layers. */
function layerDir(): string {
  counter += 1;
  const dir = join(base, 'layers', String(counter), 'fs');
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function unpack(entries: TarEntry[], dir = layerDir(), overlayWhiteouts = false): Promise<LayerContents> {
  return unpackLayer(Readable.from([tarBuffer(entries)]), dir, {
    budget: { bytesLeft: 1 << 20, entriesLeft: 1000 },
    layerName: `hostile-${counter}`,
    overlayWhiteouts,
  });
}

async function expectRefused(entries: TarEntry[], code: ErrorCode, entry: string, overlayWhiteouts = false): Promise<void> {
  const error = await unpack(entries, layerDir(), overlayWhiteouts).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(McpWarmError);
  expect((error as McpWarmError).code).toBe(code);
  expect((error as McpWarmError).details?.entry).toBe(entry);
  expect((error as McpWarmError).message).toContain(entry);
}

const file = (path: string, content = 'pwned\n'): TarEntry => ({ path, type: 'file', data: Buffer.from(content) });
const symlink = (path: string, linkname: string): TarEntry => ({ path, type: 'symlink', linkname });
const hardlink = (path: string, linkname: string): TarEntry => ({ path, type: 'hardlink', linkname });

describe('hostile names', () => {
  it('refuses ../x', async () => {
    await expectRefused([file('../x')], 'UNPACK_PATH_ESCAPE', '../x');
    await expectRefused([file('../../x')], 'UNPACK_PATH_ESCAPE', '../../x');
  });

  it('refuses a/../../x', async () => {
    await expectRefused([file('a/../../x')], 'UNPACK_PATH_ESCAPE', 'a/../../x');
  });

  it('refuses a directory or symlink named with ..', async () => {
    await expectRefused([{ path: '../../x/', type: 'directory' }], 'UNPACK_PATH_ESCAPE', '../../x/');
    await expectRefused([symlink('../x', '/etc')], 'UNPACK_PATH_ESCAPE', '../x');
  });

  it('contains /etc/x inside the target', async () => {
    const dir = layerDir();
    await unpack([file(`/etc/${etcName}`, 'contained\n')], dir);
    expect(readFileSync(join(dir, 'etc', etcName), 'utf8')).toBe('contained\n');
  });
});

describe('symbolic links', () => {
  it('refuses a file under a symlink planted earlier in the layer', async () => {
    await expectRefused([symlink('l', outside), file('l/pwned')], 'UNPACK_SYMLINK_TRAVERSAL', 'l/pwned');
    await expectRefused([symlink('l', outside), file('l/file')], 'UNPACK_SYMLINK_TRAVERSAL', 'l/file');
    await expectRefused([symlink('l', outside), { path: 'l/sub/', type: 'directory' }], 'UNPACK_SYMLINK_TRAVERSAL', 'l/sub/');
  });

  it('refuses a relative symlink out of the target, then a file under it', async () => {
    await expectRefused([symlink('up', '../../../outside'), file('up/pwned')], 'UNPACK_SYMLINK_TRAVERSAL', 'up/pwned');
  });

  it('refuses writing through a symlink chain', async () => {
    await expectRefused([symlink('b', outside), symlink('a', 'b'), file('a/pwned')], 'UNPACK_SYMLINK_TRAVERSAL', 'a/pwned');
    await expectRefused([symlink('a', 'b'), symlink('b', outside), file('a/nested/pwned')], 'UNPACK_SYMLINK_TRAVERSAL', 'a/nested/pwned');
  });

  it('refuses a symlink that replaced a directory of the same layer', async () => {
    await expectRefused([{ path: 'd/', type: 'directory' }, symlink('d', outside), file('d/pwned')], 'UNPACK_SYMLINK_TRAVERSAL', 'd/pwned');
  });

  it('refuses a whiteout written through a symlink', async () => {
    // In overlay form this whiteout would be `mknod OUTSIDE/file`.
    await expectRefused([symlink('l', outside), file('l/.wh.file', '')], 'UNPACK_SYMLINK_TRAVERSAL', 'l/.wh.file', overlay);
    await expectRefused([symlink('l', outside), file('l/.wh..wh..opq', '')], 'UNPACK_SYMLINK_TRAVERSAL', 'l/.wh..wh..opq', overlay);
  });

  it('replaces a symlink with a file instead of writing through it', async () => {
    const dir = layerDir();
    await unpack([symlink('f', join(outside, 'file')), file('f', 'replaced\n')], dir);
    expect(lstatSync(join(dir, 'f')).isFile()).toBe(true);
    expect(readFileSync(join(dir, 'f'), 'utf8')).toBe('replaced\n');
  });
});

describe('hard links', () => {
  it('refuses a hard link through a symlink (as target or as the link)', async () => {
    await expectRefused([symlink('l', outside), hardlink('h', 'l/file')], 'UNPACK_SYMLINK_TRAVERSAL', 'h');
    await expectRefused([file('f', 'ok'), symlink('l', outside), hardlink('l/h', 'f')], 'UNPACK_SYMLINK_TRAVERSAL', 'l/h');
  });

  it('refuses a hard link to ../../outside/file', async () => {
    await expectRefused([hardlink('h', '../../outside/file')], 'UNPACK_PATH_ESCAPE', 'h');
    await expectRefused([hardlink('h', '../../../outside/file')], 'UNPACK_PATH_ESCAPE', 'h');
  });

  it('refuses a hard link to /etc/passwd (not a file of this layer)', async () => {
    await expectRefused([hardlink('passwd', '/etc/passwd')], 'UNPACK_PATH_ESCAPE', 'passwd');
    await expectRefused([{ path: 'etc/', type: 'directory' }, hardlink('etc/shadow', 'etc')], 'UNPACK_PATH_ESCAPE', 'etc/shadow');
  });

  it('links to a symlink itself, not to what it names', async () => {
    const dir = layerDir();
    await unpack([symlink('l', join(outside, 'file')), hardlink('h', 'l')], dir);
    expect(lstatSync(join(dir, 'h')).isSymbolicLink()).toBe(true);
    expect(lstatSync(join(dir, 'h')).ino).toBe(lstatSync(join(dir, 'l')).ino);
  });
});

describe('a failed unpack', () => {
  function openFds(): number {
    return readdirSync('/proc/self/fd').length;
  }

  it('leaves no open file descriptors', async () => {
    const big = file('big', 'x'.repeat(100_000));
    const cutInsideFile = tarBuffer([file('small', 'ok'), big]).subarray(0, 40_000);
    const before = openFds();
    for (let i = 0; i < 20; i++) {
      const truncated = unpackLayer(Readable.from([cutInsideFile]), layerDir(), {
        budget: { bytesLeft: 1 << 20, entriesLeft: 100 },
        layerName: 'truncated',
        overlayWhiteouts: false,
      });
      await expect(truncated).rejects.toMatchObject({ code: 'UNPACK_CORRUPT' });
      // The source fails while a file is open.
      const failing = new Readable({ read() {} });
      failing.push(cutInsideFile);
      setImmediate(() => failing.destroy(new Error('connection reset')));
      await expect(
        unpackLayer(failing, layerDir(), { budget: { bytesLeft: 1 << 20, entriesLeft: 100 }, layerName: 'reset', overlayWhiteouts: false }),
      ).rejects.toThrow('connection reset');
    }
    expect(openFds()).toBe(before);
  });
});

describe('the cross-layer symlink attack', () => {
  // Layer 1 plants `evil -> OUTSIDE`; layer 2 ships `evil/pwned`. Each layer alone is harmless.
  const modes: ComposeMode[] = ['overlay', 'hardlink', 'copy'];

  /** Unpacks the two layers and composes them; the rootfs is released after `check`. */
  async function composeAttack(mode: ComposeMode, upperEntries: TarEntry[], check: (target: string) => void): Promise<void> {
    if (mode === 'overlay' && !overlay) {
      expect(inCi, 'overlay mounts must be available under CI').toBe(false);
      return;
    }
    const overlayWhiteouts = mode === 'overlay';
    const dirs = [layerDir(), layerDir()];
    const layers = [];
    for (const [index, entries] of [[symlink('evil', outside)], upperEntries].entries()) {
      const contents = await unpack(entries, dirs[index], overlayWhiteouts);
      layers.push({ dir: dirs[index]!, whiteouts: contents.whiteouts, opaqueDirs: contents.opaqueDirs, overlayWhiteouts });
    }
    const target = join(base, `rootfs-${counter}`);
    const rootfs = await composeRootfs({ layers, target, scratchDir: join(base, `scratch-${counter}`), mode });
    try {
      check(target);
    } finally {
      await releaseRootfs(rootfs);
    }
  }

  it.each(modes)('composed with %s, leaves OUTSIDE untouched and evil/ a real directory', async (mode) => {
    await composeAttack(mode, [file('evil/pwned', 'pwned\n')], (target) => {
      expect(lstatSync(join(target, 'evil')).isDirectory()).toBe(true);
      expect(lstatSync(join(target, 'evil', 'pwned')).isFile()).toBe(true);
      expect(readFileSync(join(target, 'evil', 'pwned'), 'utf8')).toBe('pwned\n');
      expect(existsSync(join(outside, 'pwned'))).toBe(false);
    });
  });

  it.each(modes)('composed with %s, whiteouts and opaque markers under evil/ delete nothing outside', async (mode) => {
    await composeAttack(mode, [file('evil/.wh.file', ''), file('evil/.wh..wh..opq', ''), file('evil/nested/.wh..wh..opq', '')], () => {
      expect(readFileSync(join(outside, 'file'), 'utf8')).toBe('sentinel\n');
    });
  });
});

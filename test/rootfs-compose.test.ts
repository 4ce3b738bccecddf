/**
 * Three real layers (whiteouts, an opaque directory, replaced and added files) unpacked into
 * snapshots and composed in every mode: the tree must be the same, with real mounts for overlay.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McpWarmError } from '../runner/errors.js';
import { mountPoints } from '../runner/mounts.js';
import { overlayAvailable } from '../runner/oci/overlay.js';
import { composeRootfs, releaseRootfs, type ComposeMode, type SnapshotLayer } from '../runner/oci/rootfs.js';
import { tarBuffer, type TarEntry } from '../runner/oci/tar-writer.js';
import { unpackLayer } from '../runner/oci/unpack.js';

const inCi = process.env.CI === 'true';
const file = (path: string, content: string, mode = 0o644): TarEntry => ({ path, type: 'file', data: Buffer.from(content), mode, mtime: 1_700_000_000 });
const dir = (path: string): TarEntry => ({ path, type: 'directory', mode: 0o755, mtime: 1_700_000_000 });

const LAYERS: TarEntry[][] = [
  [
    dir('etc/'),
    dir('etc/app/'),
    file('etc/app/a.conf', 'a1'),
    file('etc/app/b.conf', 'b1'),
    file('bin/tool', 'tool v1', 0o755),
    file('data/old.txt', 'old'),
    file('data/keep.txt', 'keep'),
    dir('lib/'),
    file('lib/x.so', 'x'),
    { path: 'link', type: 'symlink', linkname: 'bin/tool' },
  ],
  [
    file('data/.wh.old.txt', ''),
    dir('etc/app/'),
    file('etc/app/.wh..wh..opq', ''),
    file('etc/app/new.conf', 'new'),
    file('bin/tool', 'tool v2', 0o700),
    file('usr/new.txt', 'added'),
  ],
  // `data` is deleted and shipped again: nothing of the lower `data` may show through.
  [file('.wh.lib', ''), file('link', 'now a file'), file('etc/app/c.conf', 'c3'), file('.wh.data', ''), dir('data/sub/')],
];

const EXPECTED = [
  'bin/ dir 755',
  'bin/tool file 700 1700000000000 tool v2',
  'data/ dir 755',
  'data/sub/ dir 755',
  'etc/ dir 755',
  'etc/app/ dir 755',
  'etc/app/c.conf file 644 1700000000000 c3',
  'etc/app/new.conf file 644 1700000000000 new',
  'link file 644 1700000000000 now a file',
  'usr/ dir 755',
  'usr/new.txt file 644 1700000000000 added',
];

/** Type, mode, and for files mtime and content; directory mtimes depend on the mode, so not those. */
function listing(root: string, relative = ''): string[] {
  const lines: string[] = [];
  for (const name of readdirSync(join(root, relative)).sort()) {
    const path = `${relative}${name}`;
    const stats = lstatSync(join(root, path));
    const mode = (stats.mode & 0o7777).toString(8);
    if (stats.isDirectory()) lines.push(`${path}/ dir ${mode}`, ...listing(root, `${path}/`));
    else if (stats.isFile()) lines.push(`${path} file ${mode} ${stats.mtimeMs} ${readFileSync(join(root, path), 'utf8')}`);
    else if (stats.isSymbolicLink()) lines.push(`${path} symlink ${readlinkSync(join(root, path))}`);
    else lines.push(`${path} other`);
  }
  return lines;
}

const overlay = await overlayAvailable();
let base: string;
/** Snapshots with overlay whiteouts when overlay is available, and without. */
const snapshots: Record<'overlayForm' | 'plain', SnapshotLayer[]> = { overlayForm: [], plain: [] };
let runs = 0;

async function unpackAll(set: 'overlayForm' | 'plain', overlayWhiteouts: boolean): Promise<void> {
  for (const [index, entries] of LAYERS.entries()) {
    const layerDir = join(base, 'snapshots', set, `layer${index}`);
    mkdirSync(layerDir, { recursive: true });
    const contents = await unpackLayer(Readable.from([tarBuffer(entries)]), layerDir, {
      budget: { bytesLeft: 1 << 20, entriesLeft: 1000 },
      layerName: `layer${index}`,
      overlayWhiteouts,
    });
    snapshots[set].push({ dir: layerDir, whiteouts: contents.whiteouts, opaqueDirs: contents.opaqueDirs, overlayWhiteouts });
  }
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'mcpwarm-rootfs-compose-'));
  if (inCi) expect(overlay, 'overlay mounts must be available under CI').toBe(true);
  await unpackAll('overlayForm', overlay);
  await unpackAll('plain', false);
});

afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});

function paths(): { target: string; scratchDir: string } {
  runs += 1;
  return { target: join(base, `rootfs${runs}`), scratchDir: join(base, 'scratch', `run${runs}`) };
}

async function expectComposed(mode: ComposeMode | 'auto', layers: SnapshotLayer[], expectedMode: ComposeMode): Promise<void> {
  const { target, scratchDir } = paths();
  const rootfs = await composeRootfs({ layers, target, scratchDir, mode });
  expect(rootfs.mode).toBe(expectedMode);
  const mounted = mountPoints().has(target);
  expect(mounted).toBe(expectedMode === 'overlay');
  try {
    const tree = listing(target);
    expect(tree).toEqual(EXPECTED);
    expect(tree.join('\n')).not.toContain('.wh.');
  } finally {
    await releaseRootfs(rootfs);
  }
  expect(mountPoints().has(target)).toBe(false);
  expect(existsSync(target)).toBe(false);
  expect(existsSync(scratchDir)).toBe(false);
}

describe('composeRootfs', () => {
  it.runIf(overlay || inCi)('composes an overlay mount', async () => {
    await expectComposed('overlay', snapshots.overlayForm, 'overlay');
  });

  it.runIf(overlay || inCi)('auto picks overlay when it is available', async () => {
    await expectComposed('auto', snapshots.overlayForm, 'overlay');
  });

  it('auto falls back to hardlink for snapshots without overlay whiteouts', async () => {
    await expectComposed('auto', snapshots.plain, 'hardlink');
  });

  it.each(['hardlink', 'copy'] as const)('builds the same tree with %s, from either kind of snapshot', async (mode) => {
    await expectComposed(mode, snapshots.overlayForm, mode);
    await expectComposed(mode, snapshots.plain, mode);
  });

  it('hardlink shares inodes with the snapshots; copy does not', async () => {
    const snapshotTool = statSync(join(snapshots.plain[1]!.dir, 'bin/tool')).ino;
    for (const mode of ['hardlink', 'copy'] as const) {
      const rootfs = await composeRootfs({ layers: snapshots.plain, ...paths(), mode });
      const ino = statSync(join(rootfs.target, 'bin/tool')).ino;
      await releaseRootfs(rootfs);
      expect(ino === snapshotTool).toBe(mode === 'hardlink');
    }
  });

  it.runIf(overlay || inCi)('writes to an overlay rootfs land in scratch, not in the snapshots', async () => {
    const rootfs = await composeRootfs({ layers: snapshots.overlayForm, ...paths(), mode: 'overlay' });
    try {
      writeFileSync(join(rootfs.target, 'usr/new.txt'), 'changed');
      rmSync(join(rootfs.target, 'etc/app/new.conf'));
      expect(readFileSync(join(snapshots.overlayForm[1]!.dir, 'usr/new.txt'), 'utf8')).toBe('added');
      expect(existsSync(join(snapshots.overlayForm[1]!.dir, 'etc/app/new.conf'))).toBe(true);
      expect(readFileSync(join(rootfs.scratchDir, 'upper/usr/new.txt'), 'utf8')).toBe('changed');
    } finally {
      await releaseRootfs(rootfs);
    }
  });

  it('keeps an existing empty target directory on release, emptied', async () => {
    const { target, scratchDir } = paths();
    mkdirSync(target);
    for (const mode of overlay ? (['overlay', 'copy'] as const) : (['copy'] as const)) {
      const rootfs = await composeRootfs({ layers: snapshots.overlayForm, target, scratchDir, mode });
      expect(readdirSync(target).length).toBeGreaterThan(0);
      await releaseRootfs(rootfs);
      expect(readdirSync(target)).toEqual([]);
      expect(mountPoints().has(target)).toBe(false);
      expect(existsSync(scratchDir)).toBe(false);
    }
  });

  it('refuses a non-empty target with ROOTFS_TARGET_INVALID, mounting nothing', async () => {
    const { target, scratchDir } = paths();
    mkdirSync(target);
    writeFileSync(join(target, 'occupied'), '');
    for (const mode of ['overlay', 'hardlink', 'copy', 'auto'] as const) {
      const error = await composeRootfs({ layers: snapshots.overlayForm, target, scratchDir, mode }).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(McpWarmError);
      expect((error as McpWarmError).code).toBe('ROOTFS_TARGET_INVALID');
    }
    const fileTarget = join(base, 'a-file');
    writeFileSync(fileTarget, '');
    await expect(composeRootfs({ layers: [], target: fileTarget, scratchDir, mode: 'copy' })).rejects.toMatchObject({ code: 'ROOTFS_TARGET_INVALID' });
    // Only this test's directory: the rest of the machine mounts and unmounts as it pleases meanwhile.
    expect([...mountPoints()].filter((point) => point.startsWith(base))).toEqual([]);
    expect(readdirSync(target)).toEqual(['occupied']);
    expect(existsSync(scratchDir)).toBe(false);
  });

  it.runIf(overlay || inCi)('a failed overlay mount leaves no mount, no scratch and no target behind', async () => {
    const { target, scratchDir } = paths();
    const missing = { dir: join(base, 'no-such-snapshot'), whiteouts: [], opaqueDirs: [], overlayWhiteouts: true };
    const error = await composeRootfs({ layers: [...snapshots.overlayForm, missing], target, scratchDir, mode: 'overlay' }).catch(
      (thrown: unknown) => thrown,
    );
    expect((error as McpWarmError).code).toBe('ROOTFS_COMPOSE_FAILED');
    expect((error as McpWarmError).message).toContain('mount');
    expect(mountPoints().has(target)).toBe(false);
    expect(existsSync(target)).toBe(false);
    expect(existsSync(scratchDir)).toBe(false);
  });

  it('refuses overlay for snapshots without overlay whiteouts, and tampered whiteout records', async () => {
    await expect(composeRootfs({ layers: snapshots.plain, ...paths(), mode: 'overlay' })).rejects.toMatchObject({
      code: 'ROOTFS_COMPOSE_FAILED',
    });
    const tampered = { ...snapshots.plain[1]!, whiteouts: ['../../outside'] };
    const { target, scratchDir } = paths();
    await expect(composeRootfs({ layers: [tampered], target, scratchDir, mode: 'copy' })).rejects.toMatchObject({
      code: 'ROOTFS_COMPOSE_FAILED',
    });
    expect(existsSync(target)).toBe(false);
    expect(existsSync(scratchDir)).toBe(false);
  });

  it.runIf(overlay || inCi)('reports overlay compose timings', async () => {
    const timings: number[] = [];
    for (let i = 0; i < 15; i++) {
      const request = { layers: snapshots.overlayForm, ...paths(), mode: 'overlay' as const };
      const started = performance.now();
      const rootfs = await composeRootfs(request);
      timings.push(performance.now() - started);
      await releaseRootfs(rootfs);
    }
    timings.sort((a, b) => a - b);
    const p50 = timings[Math.floor(timings.length / 2)]!;
    console.error(`overlay compose (3 layers): p50 ${p50.toFixed(1)} ms, min ${timings[0]!.toFixed(1)} ms, max ${timings.at(-1)!.toFixed(1)} ms`);
    expect(timings).toHaveLength(15);
  });
});

import { describe, expect, it } from 'vitest';
import { comparePaths, planLayer, type ImageTree, type PathInfo } from './layer-plan.js';
import type { LayerEntry } from './layers.js';

const dir = (mode = 0o755, uid = 0, gid = 0): PathInfo => ({ type: 'directory', mode, uid, gid });
const file: PathInfo = { type: 'file', mode: 0o644, uid: 0, gid: 0 };
const link: PathInfo = { type: 'symlink', mode: 0o777, uid: 0, gid: 0 };

function textEntry(path: string, text = 'x'): LayerEntry {
  return { type: 'file', path, mode: 0o644, uid: 0, gid: 0, content: { data: Buffer.from(text) } };
}

const lower: ImageTree = new Map<string, PathInfo>([
  ['/tmp', dir(0o1777)],
  ['/app', dir(0o750, 1000, 1000)],
  ['/app/old.txt', file],
  ['/app/cache', dir()],
  ['/app/cache/a', file],
  ['/app/cache/sub', dir()],
  ['/app/cache/sub/b', file],
  ['/lib', link],
]);

describe('planLayer', () => {
  it('writes every parent directory, with the metadata a lower layer gave it or defaults', () => {
    const plan = planLayer(lower, { entries: [textEntry('/tmp/x'), textEntry('/srv/www/index.html')], delete: [], opaque: [] });
    expect(plan.entries.map(({ name, type, mode, uid }) => ({ name, type, mode, uid }))).toEqual([
      { name: 'srv/', type: 'directory', mode: 0o755, uid: 0 },
      { name: 'srv/www/', type: 'directory', mode: 0o755, uid: 0 },
      { name: 'srv/www/index.html', type: 'file', mode: 0o644, uid: 0 },
      { name: 'tmp/', type: 'directory', mode: 0o1777, uid: 0 },
      { name: 'tmp/x', type: 'file', mode: 0o644, uid: 0 },
    ]);
  });

  it('keeps a directory the layer writes itself instead of inventing one', () => {
    const plan = planLayer(new Map(), {
      entries: [textEntry('/data/a'), { type: 'directory', path: '/data', mode: 0o700, uid: 1000, gid: 1000 }],
      delete: [],
      opaque: [],
    });
    expect(plan.entries.map(({ name, mode, uid }) => [name, mode, uid])).toEqual([
      ['data/', 0o700, 1000],
      ['data/a', 0o644, 0],
    ]);
  });

  it('turns deletions and opaque directories into whiteout entries ahead of their siblings', () => {
    const plan = planLayer(lower, {
      entries: [textEntry('/app/cache/new'), textEntry('/app/a-file'), { type: 'symlink', path: '/app/link', target: 'a-file', uid: 0, gid: 0 }],
      delete: ['/app/old.txt'],
      opaque: ['/app/cache'],
    });
    expect(plan.entries.map(({ name, type, linkname, mode, uid }) => [name, type, linkname ?? '', mode.toString(8), uid])).toEqual([
      ['app/', 'directory', '', '750', 1000],
      ['app/.wh.old.txt', 'file', '', '644', 0],
      ['app/a-file', 'file', '', '644', 0],
      ['app/cache/', 'directory', '', '755', 0],
      ['app/cache/.wh..wh..opq', 'file', '', '644', 0],
      ['app/cache/new', 'file', '', '644', 0],
      ['app/link', 'symlink', 'a-file', '777', 0],
    ]);
    expect(plan.entries[1]!.content).toEqual({ data: Buffer.alloc(0) });
  });

  it('gives the merged view: deleted and hidden paths gone, new ones in', () => {
    const { tree } = planLayer(lower, { entries: [textEntry('/app/cache/new')], delete: ['/app/old.txt'], opaque: ['/app/cache'] });
    expect([...tree.keys()].sort()).toEqual(['/app', '/app/cache', '/app/cache/new', '/lib', '/tmp']);
    const replaced = planLayer(lower, { entries: [textEntry('/app/cache')], delete: [], opaque: [] }).tree;
    expect([...replaced.keys()].filter((path) => path.startsWith('/app/cache'))).toEqual(['/app/cache']);
    const removed = planLayer(lower, { entries: [], delete: ['/app/cache'], opaque: [] }).tree;
    expect([...removed.keys()].filter((path) => path.startsWith('/app/cache'))).toEqual([]);
    // The lower view is left as it was.
    expect(lower.has('/app/old.txt')).toBe(true);
  });

  it('refuses changes that cannot apply', () => {
    const plan = (entries: LayerEntry[], deleted: string[] = [], opaque: string[] = []) => () =>
      planLayer(lower, { entries, delete: deleted, opaque });
    expect(plan([], ['/app/missing'])).toThrow('cannot delete /app/missing: no lower layer has it');
    expect(plan([], [], ['/app/old.txt'])).toThrow('cannot make /app/old.txt opaque: no lower layer has it as a directory');
    expect(plan([textEntry('/lib/libx.so')])).toThrow('/lib/libx.so is inside /lib, which a lower layer made a symlink');
    expect(plan([textEntry('/app/old.txt/x')])).toThrow('/app/old.txt/x is inside /app/old.txt, which a lower layer made a file');
    expect(plan([textEntry('/a'), textEntry('/a/b')])).toThrow('/a/b needs /a to be a directory, but this layer makes it a file');
    expect(plan([textEntry('/a'), textEntry('/a')])).toThrow('/a is written twice in this layer');
  });
});

describe('comparePaths', () => {
  it('orders component by component, whiteouts first, the opaque marker before all', () => {
    const paths = ['/a/z', '/a-b', '/a/.wh.z', '/a', '/a/.wh..wh..opq', '/a/b/c', '/a/.hidden', '/B'];
    expect(paths.sort(comparePaths)).toEqual(['/B', '/a', '/a/.wh..wh..opq', '/a/.wh.z', '/a/.hidden', '/a/b/c', '/a/z', '/a-b']);
  });
});

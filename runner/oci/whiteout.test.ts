import { describe, expect, it } from 'vitest';
import { classifyWhiteout } from './whiteout.js';

describe('classifyWhiteout', () => {
  it('leaves ordinary names alone', () => {
    expect(classifyWhiteout('etc/passwd')).toBeUndefined();
    expect(classifyWhiteout('a/.whx')).toBeUndefined();
    expect(classifyWhiteout('a/x.wh.y')).toBeUndefined();
    expect(classifyWhiteout('.wh.a/file')).toBeUndefined();
  });

  it('names the path a whiteout deletes', () => {
    expect(classifyWhiteout('.wh.foo')).toEqual({ kind: 'whiteout', path: 'foo' });
    expect(classifyWhiteout('a/b/.wh.c')).toEqual({ kind: 'whiteout', path: 'a/b/c' });
    expect(classifyWhiteout('a/.wh..hidden')).toEqual({ kind: 'whiteout', path: 'a/.hidden' });
  });

  it('recognizes opaque markers, at the top level too', () => {
    expect(classifyWhiteout('a/b/.wh..wh..opq')).toEqual({ kind: 'opaque', path: 'a/b' });
    expect(classifyWhiteout('.wh..wh..opq')).toEqual({ kind: 'opaque', path: '' });
  });

  it('skips AUFS metadata', () => {
    expect(classifyWhiteout('.wh..wh.plnk')).toEqual({ kind: 'aufs-meta' });
    expect(classifyWhiteout('a/.wh..wh.aufs')).toEqual({ kind: 'aufs-meta' });
  });

  it('flags whiteouts that name no entry', () => {
    expect(classifyWhiteout('a/.wh.')).toEqual({ kind: 'invalid' });
    expect(classifyWhiteout('a/.wh..')).toEqual({ kind: 'invalid' });
    expect(classifyWhiteout('a/.wh...')).toEqual({ kind: 'invalid' });
  });
});

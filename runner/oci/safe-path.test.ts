import { describe, expect, it } from 'vitest';
import { ancestorPaths, baseName, isNormalEntryPath, isSameOrBeneath, normalizeEntryPath, parentPath } from './safe-path.js';

describe('normalizeEntryPath', () => {
  it.each([
    ['a/b/c', 'a/b/c'],
    ['./a/b/', 'a/b'],
    ['a//b/./c', 'a/b/c'],
    ['/etc/passwd', 'etc/passwd'],
    ['///abs//x', 'abs/x'],
    ['./', ''],
    ['.', ''],
    ['/', ''],
    ['a/..b/c..', 'a/..b/c..'],
    ['.wh..wh..opq', '.wh..wh..opq'],
  ])('%j -> %j', (name, expected) => {
    expect(normalizeEntryPath(name)).toBe(expected);
  });

  it.each(['..', '../x', 'a/../../x', 'a/b/..', '/../etc/passwd', './..', 'a/\0b'])('refuses %j', (name) => {
    expect(normalizeEntryPath(name)).toBeUndefined();
  });
});

describe('path helpers', () => {
  it('recognizes normal paths only', () => {
    expect(isNormalEntryPath('a/b')).toBe(true);
    expect(isNormalEntryPath('')).toBe(false);
    expect(isNormalEntryPath('/a')).toBe(false);
    expect(isNormalEntryPath('a/./b')).toBe(false);
    expect(isNormalEntryPath('a/../b')).toBe(false);
    expect(isNormalEntryPath('a/')).toBe(false);
  });

  it('splits paths', () => {
    expect(parentPath('a/b/c')).toBe('a/b');
    expect(parentPath('a')).toBe('');
    expect(baseName('a/b/c')).toBe('c');
    expect(baseName('c')).toBe('c');
    expect(ancestorPaths('a/b/c')).toEqual(['a', 'a/b']);
    expect(ancestorPaths('a')).toEqual([]);
  });

  it('tells what lies beneath a path', () => {
    expect(isSameOrBeneath('a/b', 'a')).toBe(true);
    expect(isSameOrBeneath('a', 'a')).toBe(true);
    expect(isSameOrBeneath('ab', 'a')).toBe(false);
    expect(isSameOrBeneath('anything', '')).toBe(true);
  });
});

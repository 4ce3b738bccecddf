import { describe, expect, it } from 'vitest';
import { backoffDelayMs, isExpired, isLaterVersion, isNewer, WatchCache, type KubeObject } from './watch-cache.js';

const obj = (name: string, resourceVersion: string): KubeObject => ({ metadata: { name, resourceVersion } });

describe('isNewer', () => {
  it('orders numeric versions as numbers and lets a newcomer win when the order cannot be told', () => {
    expect(isNewer('10', '9')).toBe(true);
    expect(isNewer('9', '10')).toBe(false);
    expect(isNewer('10', '10')).toBe(false);
    expect(isNewer('123456789012345678901', '123456789012345678900')).toBe(true);
    expect(isNewer('abc', 'abd')).toBe(true);
    expect(isNewer('abc', 'abc')).toBe(false);
    expect(isNewer('1', undefined)).toBe(true);
  });
});

describe('isLaterVersion', () => {
  it('is sure only of numeric versions, compared as numbers', () => {
    expect(isLaterVersion('10', '9')).toBe(true);
    expect(isLaterVersion('9', '10')).toBe(false);
    expect(isLaterVersion('10', '10')).toBe(false);
    expect(isLaterVersion('abd', 'abc')).toBe(false);
    expect(isLaterVersion(undefined, '1')).toBe(false);
  });
});

describe('WatchCache', () => {
  it('tells what a relist changed: added, modified (new version) and deleted, nothing for unchanged', () => {
    const cache = new WatchCache();
    expect(cache.replace([obj('a', '1'), obj('b', '2')]).map((c) => [c.type, c.object.metadata?.name])).toEqual([
      ['added', 'a'],
      ['added', 'b'],
    ]);
    const changes = cache.replace([obj('a', '1'), obj('b', '5'), obj('c', '6')]);
    expect(changes.map((c) => [c.type, c.object.metadata?.name])).toEqual([
      ['modified', 'b'],
      ['added', 'c'],
    ]);
    expect(cache.replace([obj('c', '6')]).map((c) => [c.type, c.object.metadata?.name])).toEqual([
      ['deleted', 'a'],
      ['deleted', 'b'],
    ]);
    expect(cache.items().map((o) => o.metadata?.name)).toEqual(['c']);
  });

  it('applies watch events, ignoring replays and older versions (a write answer seen before its event)', () => {
    const cache = new WatchCache();
    expect(cache.apply('ADDED', obj('a', '1'))?.type).toBe('added');
    expect(cache.apply('MODIFIED', obj('a', '3'))?.type).toBe('modified');
    expect(cache.apply('MODIFIED', obj('a', '2'))).toBeUndefined();
    expect(cache.apply('MODIFIED', obj('a', '3'))).toBeUndefined();
    expect(cache.get('a')?.metadata?.resourceVersion).toBe('3');
    expect(cache.apply('ADDED', obj('a', '4'))?.type).toBe('modified');
    expect(cache.apply('MODIFIED', obj('b', '5'))?.type).toBe('added');
    expect(cache.apply('DELETED', obj('a', '6'))?.type).toBe('deleted');
    expect(cache.apply('DELETED', obj('a', '7'))).toBeUndefined();
    expect(cache.apply('ADDED', { metadata: {} })).toBeUndefined();
    expect(cache.size).toBe(1);
  });
});

describe('backoffDelayMs', () => {
  it('doubles from the base up to the cap, jittered into [50%, 100%]', () => {
    const policy = { baseMs: 100, maxMs: 1000 };
    expect([0, 1, 2, 3, 4, 10].map((attempt) => backoffDelayMs(attempt, policy, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelayMs(2, policy, () => 0)).toBe(200);
    expect(backoffDelayMs(-1, policy, () => 1)).toBe(100);
  });
});

describe('isExpired', () => {
  it('recognises 410 Gone and the Expired reason', () => {
    expect(isExpired({ code: 410, reason: 'Expired' })).toBe(true);
    expect(isExpired({ reason: 'Gone' })).toBe(true);
    expect(isExpired({ code: 500, reason: 'InternalError' })).toBe(false);
    expect(isExpired(undefined)).toBe(false);
  });
});

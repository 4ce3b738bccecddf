import { describe, expect, it } from 'vitest';
import type { Runner } from '../substrates/types.js';
import { awaitingPrefetch, PREFETCHED_ANNOTATION, prefetchList, RecentMedian } from './prefetch.js';

function runner(overrides: Partial<Runner> = {}): Runner {
  return { id: 'r', pool: 'p', state: 'warm', phase: 'running', endpoint: 'http://127.0.0.1:1', annotations: {}, createdAt: '2026-01-01T00:00:00Z', version: '1', ...overrides };
}

describe('prefetchList', () => {
  it('takes the configured images, then the hot and named servers\' images, each once', () => {
    expect(prefetchList(['r/a:1', 'r/b:1'], [{ image: 'r/b:1' }, { image: 'r/c:1' }], [{ image: 'r/a:1' }, { image: 'r/d:1' }])).toEqual(['r/a:1', 'r/b:1', 'r/c:1', 'r/d:1']);
    expect(prefetchList([], [], [])).toEqual([]);
  });
});

describe('awaitingPrefetch', () => {
  it('holds for a warm runner whose agent is ready and that was not prefetched into', () => {
    expect(awaitingPrefetch(runner())).toBe(true);
    expect(awaitingPrefetch(runner({ annotations: { [PREFETCHED_ANNOTATION]: '2026-01-01T00:00:05Z' } }))).toBe(false);
  });

  it('does not hold for a runner still starting, claimed, failed or without an endpoint', () => {
    expect(awaitingPrefetch(runner({ phase: 'pending' }))).toBe(false);
    expect(awaitingPrefetch(runner({ state: 'claimed' }))).toBe(false);
    expect(awaitingPrefetch(runner({ phase: 'gone' }))).toBe(false);
    const { endpoint: _, ...noEndpoint } = runner();
    expect(awaitingPrefetch(noEndpoint)).toBe(false);
  });
});

describe('RecentMedian', () => {
  it('is undefined before a sample, then the median of the last samples', () => {
    const median = new RecentMedian(4);
    expect(median.median()).toBeUndefined();
    for (const value of [5, 1, 3]) median.add(value);
    expect(median.median()).toBe(3);
    median.add(10);
    expect(median.median()).toBe(4);
    // The oldest (5) goes: 1, 3, 10, 2.
    median.add(2);
    expect(median.count).toBe(4);
    expect(median.median()).toBe(2.5);
  });
});

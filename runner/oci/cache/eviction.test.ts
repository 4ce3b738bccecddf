import { describe, expect, it } from 'vitest';
import { planEviction, type CacheEntry } from './eviction.js';

const entry = (key: string, bytes: number, lastUsedMs: number): CacheEntry => ({ key, bytes, lastUsedMs });

describe('planEviction', () => {
  const entries = [entry('blob:a', 40, 3), entry('snapshot:b', 30, 1), entry('blob:c', 20, 2), entry('snapshot:d', 10, 4)];

  it('evicts nothing under budget', () => {
    expect(planEviction(entries, 100, new Set())).toEqual({ evict: [], bytesAfter: 100, overBudget: false });
  });

  it('evicts least recently used first until under budget', () => {
    const plan = planEviction(entries, 55, new Set());
    expect(plan.evict.map((e) => e.key)).toEqual(['snapshot:b', 'blob:c']);
    expect(plan.bytesAfter).toBe(50);
    expect(plan.overBudget).toBe(false);
  });

  it('never evicts protected entries and reports when they alone exceed the budget', () => {
    const plan = planEviction(entries, 45, new Set(['snapshot:b', 'blob:a']));
    expect(plan.evict.map((e) => e.key)).toEqual(['blob:c', 'snapshot:d']);
    expect(plan.bytesAfter).toBe(70);
    expect(plan.overBudget).toBe(true);
  });

  it('breaks ties on the key so plans are reproducible', () => {
    const tied = [entry('blob:z', 10, 5), entry('blob:y', 10, 5)];
    expect(planEviction(tied, 10, new Set()).evict.map((e) => e.key)).toEqual(['blob:y']);
  });
});

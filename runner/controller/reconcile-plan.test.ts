import { describe, expect, it } from 'vitest';
import type { Runner } from '../substrates/types.js';
import { PREFETCHED_ANNOTATION } from './prefetch.js';
import {
  ACTIVATION_STATE_ANNOTATION,
  CLAIMED_AT_ANNOTATION,
  DEFAULT_ABANDONED_CLAIM_MS,
  LEASE_EXPIRES_ANNOTATION,
  backoffDelayMs,
  decideColdFallback,
  planReconcile,
  type PoolPolicy,
} from './reconcile-plan.js';

const NOW = Date.parse('2026-11-20T12:00:00Z');
const policy: PoolPolicy = { warmTarget: 3, maxSize: 6, maxAgeMs: 3_600_000, backoffBaseMs: 1000, backoffMaxMs: 30_000 };
const none = { consecutiveFailures: 0 };

function runner(id: string, overrides: Partial<Runner> & { ageMs?: number } = {}): Runner {
  const { ageMs = 60_000, ...rest } = overrides;
  return { id, pool: 'p', state: 'warm', phase: 'running', annotations: {}, createdAt: new Date(NOW - ageMs).toISOString(), version: '1', ...rest };
}

describe('planReconcile', () => {
  it('fills an empty pool to its warm target', () => {
    expect(planReconcile([], policy, none, NOW)).toEqual({ delete: [], create: 3 });
  });

  it('counts pending runners as warm capacity already on its way', () => {
    expect(planReconcile([runner('a', { phase: 'pending' }), runner('b')], policy, none, NOW).create).toBe(1);
  });

  it('replaces failed and gone runners', () => {
    const plan = planReconcile([runner('a', { phase: 'failed' }), runner('b', { phase: 'gone' }), runner('c')], policy, none, NOW);
    expect(plan.delete).toEqual([
      { id: 'a', reason: 'failed' },
      { id: 'b', reason: 'gone' },
    ]);
    expect(plan.create).toBe(2);
  });

  it('ends claimed runners whose lease lapsed, and keeps the others', () => {
    const lapsed = runner('a', { state: 'claimed', annotations: { [LEASE_EXPIRES_ANNOTATION]: new Date(NOW - 1).toISOString() } });
    const live = runner('b', { state: 'claimed', annotations: { [LEASE_EXPIRES_ANNOTATION]: new Date(NOW + 60_000).toISOString() } });
    const plan = planReconcile([lapsed, live, runner('c'), runner('d'), runner('e')], policy, none, NOW);
    expect(plan.delete).toEqual([{ id: 'a', reason: 'lease-expired' }]);
    expect(plan.create).toBe(0);
  });

  it('deletes a claim whose activation was never recorded once it is older than the grace, and only then', () => {
    const claimed = (id: string, ageMs: number, recorded: boolean) =>
      runner(id, {
        state: 'claimed',
        annotations: {
          [CLAIMED_AT_ANNOTATION]: new Date(NOW - ageMs).toISOString(),
          [LEASE_EXPIRES_ANNOTATION]: new Date(NOW + 3_600_000).toISOString(),
          ...(recorded ? { [ACTIVATION_STATE_ANNOTATION]: 'active' } : {}),
        },
      });
    const given = [claimed('stale', DEFAULT_ABANDONED_CLAIM_MS + 1, false), claimed('making', 60_000, false), claimed('old-but-recorded', DEFAULT_ABANDONED_CLAIM_MS * 3, true)];
    expect(planReconcile(given, policy, none, NOW).delete).toEqual([{ id: 'stale', reason: 'abandoned' }]);
    expect(planReconcile(given, { ...policy, abandonedClaimMs: 30_000 }, none, NOW).delete.map((d) => d.id)).toEqual(['stale', 'making']);
  });

  it('deletes draining runners (single use) and refills', () => {
    const plan = planReconcile([runner('a', { state: 'draining' }), runner('b'), runner('c')], policy, none, NOW);
    expect(plan.delete).toEqual([{ id: 'a', reason: 'draining' }]);
    expect(plan.create).toBe(1);
  });

  it('trims surplus warm runners, oldest first', () => {
    const plan = planReconcile(['a', 'b', 'c', 'd', 'e'].map((id, i) => runner(id, { ageMs: 1000 * (i + 1) })), policy, none, NOW);
    expect(plan.delete).toEqual([
      { id: 'e', reason: 'surplus' },
      { id: 'd', reason: 'surplus' },
    ]);
    expect(plan.create).toBe(0);
  });

  it('trims runners still starting before ready ones', () => {
    const given = [runner('ready-old', { ageMs: 9000 }), runner('ready', { ageMs: 5000 }), runner('c', { ageMs: 4000 }), runner('starting', { phase: 'pending', ageMs: 100 })];
    expect(planReconcile(given, policy, none, NOW).delete).toEqual([{ id: 'starting', reason: 'surplus' }]);
  });

  it('counts a runner still prefetching as starting: trimmed first, never rotated', () => {
    const ready = (id: string, ageMs: number) => runner(id, { endpoint: 'http://127.0.0.1:1', ageMs, annotations: { [PREFETCHED_ANNOTATION]: new Date(NOW).toISOString() } });
    const prefetching = runner('prefetching', { endpoint: 'http://127.0.0.1:1', ageMs: 7_200_000 });
    const prefetchPolicy = { ...policy, prefetch: true };
    const surplus = [ready('a', 9000), ready('b', 5000), ready('c', 4000), prefetching];
    expect(planReconcile(surplus, prefetchPolicy, none, NOW).delete).toEqual([{ id: 'prefetching', reason: 'surplus' }]);
    const full = [ready('a', 9000), ready('b', 5000), prefetching];
    expect(planReconcile(full, prefetchPolicy, none, NOW)).toEqual({ delete: [], create: 0 });
    // The same runner in a pool that does not prefetch is ready, and over age.
    expect(planReconcile(full, policy, none, NOW).delete).toEqual([{ id: 'prefetching', reason: 'too-old' }]);
  });

  it('makes runners for queued activations on top of the target, within the maximum size', () => {
    const claimed = ['a', 'b'].map((id) => runner(id, { state: 'claimed' }));
    expect(planReconcile([...claimed, runner('c')], policy, none, NOW).create).toBe(2);
    expect(planReconcile([...claimed, runner('c')], policy, none, NOW, 1).create).toBe(3);
    expect(planReconcile([...claimed, runner('c')], policy, none, NOW, 10).create).toBe(3);
  });

  it('trims no warm runner while activations wait', () => {
    const warm = ['a', 'b', 'c', 'd'].map((id) => runner(id));
    expect(planReconcile(warm, policy, none, NOW).delete).toHaveLength(1);
    expect(planReconcile(warm, policy, none, NOW, 1)).toEqual({ delete: [], create: 0 });
  });

  it('rotates one over-age runner per pass and refills it', () => {
    const old = [runner('a', { ageMs: 7_200_000 }), runner('b', { ageMs: 7_100_000 }), runner('c')];
    const plan = planReconcile(old, policy, none, NOW);
    expect(plan.delete).toEqual([{ id: 'a', reason: 'too-old' }]);
    expect(plan.create).toBe(1);
  });

  it('never exceeds the maximum size, claimed runners included', () => {
    const claimed = ['a', 'b', 'c', 'd', 'e'].map((id) => runner(id, { state: 'claimed' }));
    expect(planReconcile(claimed, policy, none, NOW).create).toBe(1);
  });

  it('holds creation back after failures, with exponential backoff', () => {
    expect(backoffDelayMs(1, policy)).toBe(1000);
    expect(backoffDelayMs(4, policy)).toBe(8000);
    expect(backoffDelayMs(20, policy)).toBe(30_000);
    const held = planReconcile([], policy, { consecutiveFailures: 3, lastFailureAtMs: NOW - 1000 }, NOW);
    expect(held).toEqual({ delete: [], create: 0, backoffUntilMs: NOW + 3000 });
    expect(planReconcile([], policy, { consecutiveFailures: 3, lastFailureAtMs: NOW - 5000 }, NOW).create).toBe(3);
  });
});

describe('decideColdFallback', () => {
  const state = { enabled: true, coldRunners: 0, maxColdRunners: 2, refillSeconds: 3.2 };

  it('makes a cold runner while fewer than the cap are being made', () => {
    expect(decideColdFallback(state)).toEqual({ create: true });
    expect(decideColdFallback({ ...state, coldRunners: 1 })).toEqual({ create: true });
  });

  it('refuses at the cap, with a retry after about the refill time (at least a second)', () => {
    expect(decideColdFallback({ ...state, coldRunners: 2 })).toEqual({ create: false, reason: 'at-capacity', retryAfterSeconds: 4 });
    expect(decideColdFallback({ ...state, coldRunners: 5 })).toMatchObject({ create: false, reason: 'at-capacity' });
    expect(decideColdFallback({ ...state, coldRunners: 2, refillSeconds: 0.2 })).toMatchObject({ retryAfterSeconds: 1 });
  });

  it('never makes one with a cap of 0 or with the fallback off', () => {
    expect(decideColdFallback({ ...state, maxColdRunners: 0 })).toMatchObject({ create: false, reason: 'at-capacity' });
    expect(decideColdFallback({ ...state, enabled: false })).toEqual({ create: false, reason: 'disabled', retryAfterSeconds: 1 });
  });
});

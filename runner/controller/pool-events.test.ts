import { describe, expect, it } from 'vitest';
import { describePoolEvent } from './pool-events.js';

const runner = { id: 'r', pool: 'p', state: 'warm', phase: 'running', annotations: {}, createdAt: '', version: '1' } as const;

describe('describePoolEvent', () => {
  it('logs an autoscaling decision with its inputs', () => {
    expect(describePoolEvent({ type: 'target-changed', from: 1, to: 4, arrivalRate: 1.234, refillSeconds: 2.5 })).toBe(
      'autoscale: warm target 1 -> 4 (arrival rate 1.23/s, refill 2.50 s)',
    );
  });

  it('logs a failed creation with the backoff it causes', () => {
    expect(describePoolEvent({ type: 'runner-failed', runnerId: 'runner-1', message: 'runner runner-1 failed before its agent was ready', consecutiveFailures: 3, retryInMs: 4000 })).toBe(
      'runner creation failed: runner runner-1 failed before its agent was ready (3 in a row; next attempt in 4.0 s)',
    );
  });

  it('logs the images a runner could not prefetch, and an agent that did not answer', () => {
    expect(
      describePoolEvent({ type: 'runner-prefetched', runner, seconds: 2, cached: [], failures: [{ image: 'r/missing:1', code: 'IMAGE_NOT_FOUND', message: 'no such tag' }] }),
    ).toBe('prefetch into runner r: r/missing:1 failed (IMAGE_NOT_FOUND: no such tag); it is warm without them');
    expect(describePoolEvent({ type: 'runner-prefetched', runner, seconds: 5, cached: [], failures: [], unanswered: 'did not answer POST /images within 5000 ms' })).toBe(
      'prefetch into runner r: its agent did not answer (did not answer POST /images within 5000 ms); it is warm without them',
    );
  });

  it('stays quiet about routine events', () => {
    expect(describePoolEvent({ type: 'runner-ready', runner, seconds: 1 })).toBeUndefined();
    expect(describePoolEvent({ type: 'runner-deleted', runner, reason: 'draining' })).toBeUndefined();
    expect(describePoolEvent({ type: 'runner-prefetched', runner, seconds: 1, cached: ['r/a:1'], failures: [] })).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { leastLoaded, planDispatch, retryAfterSeconds, type BackendLoad, type WaitingRequest } from './dispatch-plan.js';

const backend = (load: number, options: Partial<BackendLoad> = {}): BackendLoad => ({ ready: true, load, capacity: 1, served: 0, ...options });
const free = (group: unknown = {}, pinsGroup = false): WaitingRequest => ({ pin: undefined, group, pinsGroup });
const pinned = (pin: number, group: unknown = {}): WaitingRequest => ({ pin, group, pinsGroup: false });

describe('leastLoaded', () => {
  it('picks the ready backend with room and the fewest requests, then the fewest served', () => {
    expect(leastLoaded([backend(1), backend(0), backend(0, { served: 5 })])).toBe(1);
    expect(leastLoaded([backend(0, { served: 3 }), backend(0, { served: 1 })])).toBe(1);
    expect(leastLoaded([backend(3, { capacity: 10 }), backend(1, { capacity: 10 })])).toBe(1);
    expect(leastLoaded([backend(0, { ready: false }), backend(1)])).toBeUndefined();
  });
});

describe('planDispatch', () => {
  it('serves the queue oldest first, one request per backend when each takes one at a time', () => {
    expect(planDispatch([free(), free(), free()], [backend(0), backend(0)])).toEqual([
      { waiting: 0, backend: 0 },
      { waiting: 1, backend: 1 },
    ]);
  });

  it('sends a request to the first of equally loaded backends, and one that pins its session to the least served', () => {
    const pool = [backend(1), backend(0, { served: 9 }), backend(0, { served: 2 })];
    expect(planDispatch([free()], pool)).toEqual([{ waiting: 0, backend: 1 }]);
    expect(planDispatch([free({}, true)], pool)).toEqual([{ waiting: 0, backend: 2 }]);
  });

  it('keeps a pinned request waiting for its backend without holding up the others', () => {
    expect(planDispatch([pinned(0), free(), pinned(1)], [backend(1), backend(0)])).toEqual([{ waiting: 1, backend: 1 }]);
    expect(planDispatch([pinned(0), free()], [backend(0), backend(1)])).toEqual([{ waiting: 0, backend: 0 }]);
  });

  it('pins a group where its first stateful request goes, within one plan', () => {
    const session = {};
    const plan = planDispatch([free(session, true), free(session), free()], [backend(0), backend(0, { capacity: 2 })]);
    // The stateful request goes to backend 0 (fewest served first: both idle, index breaks the tie);
    // the session's next request must follow it there, and 0 is full: it waits, the third goes to 1.
    expect(plan).toEqual([
      { waiting: 0, backend: 0 },
      { waiting: 2, backend: 1 },
    ]);
  });

  it('attaches everything at once to backends without a limit', () => {
    expect(planDispatch([pinned(0), pinned(0), pinned(1)], [backend(0, { capacity: Infinity }), backend(5, { capacity: Infinity })])).toHaveLength(3);
  });

  it('plans nothing while backends are not ready', () => {
    expect(planDispatch([free(), pinned(0)], [backend(0, { ready: false })])).toEqual([]);
  });
});

describe('retryAfterSeconds', () => {
  it('estimates the time to drain the queue, within 1 to 60 s', () => {
    expect(retryAfterSeconds(0, 1, 10)).toBe(1);
    expect(retryAfterSeconds(99, 2, 100)).toBe(5);
    expect(retryAfterSeconds(10_000, 1, 1000)).toBe(60);
  });
});

import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { runOpenLoop } from './open-loop.js';

describe('runOpenLoop', () => {
  it('charges operations that waited on a stall from their planned time', async () => {
    // Ten operations 10 ms apart; none can finish before a gate opens at 300 ms.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    // Armed by the first send, so the 300 ms are on the loop's own clock.
    const result = await runOpenLoop({
      offsetsMs: Array.from({ length: 10 }, (_, i) => i * 10),
      operation: (i) => {
        if (i === 0) setTimeout(() => open(), 300);
        return gate;
      },
    });
    expect(result.operations).toHaveLength(10);
    for (const op of result.operations) {
      expect(op.ok).toBe(true);
      // Every one ended at the gate (>= 300 ms), so each waited from its own planned time.
      expect(op.endedMs).toBeGreaterThanOrEqual(299);
      expect(op.latencyMs).toBeCloseTo(op.endedMs - op.plannedMs, 6);
      expect(op.latencyMs).toBeGreaterThanOrEqual(299 - op.plannedMs);
    }
    // Sends kept to the schedule although nothing had finished: the load did not back off.
    expect(result.operations[9]!.sentMs).toBeLessThan(result.operations[0]!.endedMs);
  });

  it('records failures with their error and keeps going', async () => {
    const result = await runOpenLoop({
      offsetsMs: [0, 1, 2, 3],
      operation: async (i) => {
        if (i % 2 === 1) throw new Error(`failed ${i}`);
        return i * 10;
      },
    });
    expect(result.operations.map((op) => op.ok)).toEqual([true, false, true, false]);
    expect(result.operations[2]!.value).toBe(20);
    expect((result.operations[3]!.error as Error).message).toBe('failed 3');
  });

  it('drops operations due while maxInFlight are outstanding, and counts them', async () => {
    const result = await runOpenLoop({ offsetsMs: [0, 5, 10, 15, 400], maxInFlight: 1, operation: () => sleep(40) });
    // 0 runs for 40 ms: 5, 10 and 15 fall due meanwhile and are dropped; 400 runs.
    expect(result.operations.map((op) => op.index)).toEqual([0, 4]);
    expect(result.droppedPlannedMs).toEqual([5, 10, 15]);
  });

  it('stops sending when aborted and reports what was not sent', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    const result = await runOpenLoop({ offsetsMs: [0, 10, 1000, 2000], operation: async () => undefined, signal: controller.signal });
    expect(result.operations).toHaveLength(2);
    expect(result.notSent).toBe(2);
    expect(result.durationMs).toBeLessThan(500);
  });

  it('sends a synchronous throw as a failed operation', async () => {
    const result = await runOpenLoop<void>({
      offsetsMs: [0],
      operation: () => {
        throw new Error('sync');
      },
    });
    expect(result.operations[0]!.ok).toBe(false);
  });
});

import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { runClosedLoop } from './closed-loop.js';

describe('runClosedLoop', () => {
  it('keeps exactly `concurrency` operations outstanding until the count is started', async () => {
    let outstanding = 0;
    let most = 0;
    const result = await runClosedLoop({
      concurrency: 3,
      count: 12,
      operation: async () => {
        outstanding += 1;
        most = Math.max(most, outstanding);
        await sleep(5);
        outstanding -= 1;
      },
    });
    expect(result.operations).toHaveLength(12);
    expect(most).toBe(3);
    expect(new Set(result.operations.map((op) => op.worker))).toEqual(new Set([0, 1, 2]));
    expect(result.operations.map((op) => op.index)).toEqual([...Array(12).keys()]);
  });

  it('runs back to back for a duration: a slow answer delays the next start', async () => {
    const result = await runClosedLoop({ concurrency: 1, durationMs: 100, operation: () => sleep(30) });
    const ops = result.operations;
    // Each takes at least 30 ms, one after another: at most 4 start within 100 ms.
    expect(ops.length).toBeGreaterThanOrEqual(2);
    expect(ops.length).toBeLessThanOrEqual(4);
    for (let i = 1; i < ops.length; i += 1) expect(ops[i]!.startMs).toBeGreaterThanOrEqual(ops[i - 1]!.endedMs);
    expect(ops.every((op) => op.startMs < 100)).toBe(true);
  });

  it('records failures and refuses a bad concurrency', async () => {
    const result = await runClosedLoop({ concurrency: 2, count: 4, operation: async (i) => { if (i === 2) throw new Error('x'); } });
    expect(result.operations.filter((op) => !op.ok).map((op) => op.index)).toEqual([2]);
    await expect(runClosedLoop({ concurrency: 0, count: 1, operation: async () => undefined })).rejects.toMatchObject({ code: 'USAGE_INVALID' });
    await expect(runClosedLoop({ concurrency: 1, operation: async () => undefined })).rejects.toMatchObject({ code: 'USAGE_INVALID' });
  });
});

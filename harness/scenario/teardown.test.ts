import { describe, expect, it } from 'vitest';
import { RunTeardown } from './teardown.js';

describe('RunTeardown', () => {
  it('runs the steps last first, and a step registered after the teardown at once', async () => {
    const order: string[] = [];
    const teardown = new RunTeardown();
    teardown.push('registry', () => order.push('registry'));
    teardown.push('agent', async () => {
      order.push('agent');
      throw new Error('already gone');
    });
    const failures = await teardown.run();
    expect(order).toEqual(['agent', 'registry']);
    expect(failures.map((f) => f.what)).toEqual(['agent']);
    // Started while the run was being stopped: stopped as soon as it registers.
    teardown.push('late agent', () => order.push('late agent'));
    teardown.push('late controller', () => {
      throw new Error('x');
    });
    expect((await teardown.lateSteps()).map((f) => f.what)).toEqual(['late controller']);
    expect(order).toEqual(['agent', 'registry', 'late agent']);
    expect(await teardown.run()).toEqual([]);
  });
});

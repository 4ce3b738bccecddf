import { describe, expect, it } from 'vitest';
import { CleanupStack } from './cleanup-stack.js';

describe('CleanupStack', () => {
  it('runs every step last-in first-out, collecting failures without stopping', async () => {
    const order: string[] = [];
    const stack = new CleanupStack();
    stack.push('first', () => order.push('first'));
    stack.push('broken', () => {
      throw new Error('nope');
    });
    stack.push('last', async () => order.push('last'));
    const failures = await stack.run();
    expect(order).toEqual(['last', 'first']);
    expect(failures.map((f) => f.what)).toEqual(['broken']);
    expect(await stack.run()).toEqual([]);
  });
});

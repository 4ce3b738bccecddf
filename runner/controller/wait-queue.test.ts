import { describe, expect, it, vi } from 'vitest';
import { WaitQueue } from './wait-queue.js';

describe('WaitQueue', () => {
  it('wakes waiters oldest first', async () => {
    const queue = new WaitQueue(10);
    const order: number[] = [];
    const first = queue.wait(10_000).then((o) => order.push(1) && o);
    const second = queue.wait(10_000).then((o) => order.push(2) && o);
    queue.wake();
    expect(await first).toBe('ready');
    expect(queue.length).toBe(1);
    queue.wake();
    expect(await second).toBe('ready');
    expect(order).toEqual([1, 2]);
  });

  it('times a waiter out and forgets it', async () => {
    vi.useFakeTimers();
    try {
      const queue = new WaitQueue(10);
      const outcome = queue.wait(500);
      vi.advanceTimersByTime(500);
      expect(await outcome).toBe('timeout');
      expect(queue.length).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses a waiter when full', async () => {
    const queue = new WaitQueue(1);
    const held = queue.wait(10_000);
    expect(await queue.wait(10_000)).toBe('full');
    queue.drain();
    expect(await held).toBe('timeout');
  });

  it('lets a waiter whose signal aborts leave the queue', async () => {
    const queue = new WaitQueue(10);
    const cancel = new AbortController();
    const leaving = queue.wait(10_000, cancel.signal);
    const staying = queue.wait(10_000);
    cancel.abort();
    expect(await leaving).toBe('timeout');
    expect(queue.length).toBe(1);
    queue.wake();
    expect(await staying).toBe('ready');
    expect(await queue.wait(10_000, cancel.signal)).toBe('timeout');
    expect(queue.length).toBe(0);
  });
});

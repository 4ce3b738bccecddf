/**
 * Activations waiting for a warm runner: first come, first served, each with a deadline. The
 * queue is bounded: when it is full, a new waiter is refused at once instead of piling up.
 */

export type WaitOutcome = 'ready' | 'timeout' | 'full';

interface Waiter {
  /** Resolves the wait once, and lets go of its timer and abort listener. */
  settle(outcome: WaitOutcome): void;
}

export class WaitQueue {
  private readonly waiters: Waiter[] = [];

  constructor(private readonly maxLength: number) {}

  get length(): number {
    return this.waiters.length;
  }

  /**
   * Resolves with 'ready' when woken, 'timeout' after `maxWaitMs` (or once `signal` aborts: the
   * waiter gave up), 'full' at once when the queue is full.
   */
  wait(maxWaitMs: number, signal?: AbortSignal): Promise<WaitOutcome> {
    if (this.waiters.length >= this.maxLength) return Promise.resolve('full');
    if (signal?.aborted) return Promise.resolve('timeout');
    return new Promise((resolve) => {
      const leave = () => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        waiter.settle('timeout');
      };
      const timer = setTimeout(leave, maxWaitMs);
      signal?.addEventListener('abort', leave, { once: true });
      const waiter: Waiter = {
        settle: (outcome) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', leave);
          resolve(outcome);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Wakes up to `count` waiters, oldest first (each then tries to claim). */
  wake(count = 1): void {
    for (const waiter of this.waiters.splice(0, count)) waiter.settle('ready');
  }

  /** Wakes everyone with 'timeout' (shutdown). */
  drain(): void {
    for (const waiter of this.waiters.splice(0)) waiter.settle('timeout');
  }
}

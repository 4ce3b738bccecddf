/**
 * Activations waiting for a warm runner: first come, first served, each with a deadline. The
 * queue is bounded: when it is full, a new waiter is refused at once instead of piling up.
 */

export type WaitOutcome = 'ready' | 'timeout' | 'full';

interface Waiter {
  resolve(outcome: WaitOutcome): void;
  timer: NodeJS.Timeout;
}

export class WaitQueue {
  private readonly waiters: Waiter[] = [];

  constructor(private readonly maxLength: number) {}

  get length(): number {
    return this.waiters.length;
  }

  /** Resolves with 'ready' when woken, 'timeout' after `maxWaitMs`, 'full' at once when the queue is full. */
  wait(maxWaitMs: number): Promise<WaitOutcome> {
    if (this.waiters.length >= this.maxLength) return Promise.resolve('full');
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resolve,
        timer: setTimeout(() => {
          const at = this.waiters.indexOf(waiter);
          if (at >= 0) this.waiters.splice(at, 1);
          resolve('timeout');
        }, maxWaitMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Wakes up to `count` waiters, oldest first (each then tries to claim). */
  wake(count = 1): void {
    for (const waiter of this.waiters.splice(0, count)) {
      clearTimeout(waiter.timer);
      waiter.resolve('ready');
    }
  }

  /** Wakes everyone with 'timeout' (shutdown). */
  drain(): void {
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.resolve('timeout');
    }
  }
}

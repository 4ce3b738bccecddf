/**
 * Watches live activations between client requests: every pass asks each activation's runner
 * about its instance, so a server that exited or a runner that went away ends its activation
 * (and frees its runner for replacement) without waiting for a client to notice or a lease to
 * lapse. One pass at a time; the relay asks for an immediate check when a runner fails it.
 */
import type { InstanceVerdict } from './activation-failures.js';

export type Ending = Extract<InstanceVerdict, 'server-exited' | 'runner-lost'>;

export interface MonitorOptions<A> {
  intervalMs: number;
  /** The activations to watch (read at every pass). */
  list(): A[];
  check(activation: A): Promise<InstanceVerdict>;
  /** Ends an activation that a check found over. */
  ended(activation: A, why: Ending): Promise<void>;
  onError(error: unknown): void;
}

export class ActivationMonitor<A> {
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;

  constructor(private readonly options: MonitorOptions<A>) {}

  start(): void {
    this.timer = setInterval(() => {
      this.pass ??= Promise.all(this.options.list().map((activation) => this.checkNow(activation)))
        .then(() => undefined)
        .finally(() => {
          this.pass = undefined;
        });
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.pass;
  }

  /** Checks one activation now and ends it if it is over; resolves with the verdict. */
  async checkNow(activation: A): Promise<InstanceVerdict> {
    try {
      const verdict = await this.options.check(activation);
      if (verdict === 'server-exited' || verdict === 'runner-lost') await this.options.ended(activation, verdict);
      return verdict;
    } catch (error) {
      this.options.onError(error);
      return 'unknown';
    }
  }
}

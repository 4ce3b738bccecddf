/**
 * The undo steps of a run, run in reverse at its end. A run interrupted while it stands something
 * up is torn down at once; the step still in progress registers its undo afterwards, and that
 * undo runs right away, so a service that finished starting after the teardown is stopped too.
 */
import { CleanupStack } from '../../runner/cleanup-stack.js';

/** What services and drivers need: a place to register how to stop what they started. */
export interface Teardown {
  push(what: string, undo: () => Promise<unknown> | unknown): void;
}

export class RunTeardown implements Teardown {
  private readonly stack = new CleanupStack();
  private ran = false;
  private readonly late: Array<Promise<{ what: string; error: unknown } | undefined>> = [];

  push(what: string, undo: () => Promise<unknown> | unknown): void {
    if (!this.ran) {
      this.stack.push(what, undo);
      return;
    }
    this.late.push(
      (async () => {
        try {
          await undo();
          return undefined;
        } catch (error) {
          return { what, error };
        }
      })(),
    );
  }

  /** Runs every step registered so far, last first; steps registered later run as they come. */
  run(): Promise<Array<{ what: string; error: unknown }>> {
    this.ran = true;
    return this.stack.run();
  }

  /** Waits for the steps registered after run(); returns those that failed. */
  async lateSteps(): Promise<Array<{ what: string; error: unknown }>> {
    return (await Promise.all(this.late)).filter((failure) => failure !== undefined);
  }
}

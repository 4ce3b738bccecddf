/** Undo steps collected while something is built up, run last-in first-out when it fails or ends. */
export class CleanupStack {
  private readonly steps: Array<{ what: string; undo: () => Promise<unknown> | unknown }> = [];

  push(what: string, undo: () => Promise<unknown> | unknown): void {
    this.steps.push({ what, undo });
  }

  /** Runs every step (a failing one does not stop the others); returns what failed. */
  async run(): Promise<Array<{ what: string; error: unknown }>> {
    const failures: Array<{ what: string; error: unknown }> = [];
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step.undo();
      } catch (error) {
        failures.push({ what: step.what, error });
      }
    }
    return failures;
  }
}

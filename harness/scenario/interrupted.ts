/** How a run that was stopped (Ctrl-C, SIGTERM) ends, once everything it started was stopped. */
export class ScenarioInterrupted extends Error {
  constructor() {
    super('interrupted: everything the run started was stopped');
    this.name = 'ScenarioInterrupted';
  }
}

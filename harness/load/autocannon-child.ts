/**
 * The autocannon load in a process of its own (started by autocannon-process.ts), so the load
 * generator does not share an event loop with a gateway that runs in the harness's process: it
 * takes its options as the first IPC message, answers with the outcome (or the error), and exits.
 */
import { runAutocannon, type AutocannonLoadOptions } from './autocannon-load.js';

// The parent went away: nobody is left to take the figures.
process.once('disconnect', () => process.exit(1));
process.once('message', (options: AutocannonLoadOptions) => {
  const answer = (message: unknown): void => void process.send!(message, () => process.exit(0));
  runAutocannon(options).then(
    (outcome) => answer({ outcome }),
    (error: { code?: unknown; message?: unknown }) => answer({ error: { code: error.code, message: String(error.message) } }),
  );
});

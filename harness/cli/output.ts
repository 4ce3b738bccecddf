/**
 * CLI conventions: human output and progress on stderr, one JSON document on stdout with --json,
 * exit 0 on success, 1 on a failed operation or check, 2 on bad usage or input.
 */
import { ERROR_CATALOGUE, isMcpWarmError } from '../../runner/errors.js';

export interface JsonFlag {
  json?: boolean;
}

/** A line of human output (stderr, so stdout stays machine-readable). */
export function say(line = ''): void {
  process.stderr.write(`${line}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints a coded error the way the flags ask and sets the exit status. */
export function reportError(error: unknown, json: boolean): void {
  if (isMcpWarmError(error)) {
    if (json) printJson({ error: error.toJSON() });
    say(`error ${error.code}: ${error.message}`);
    say(`hint: ${error.hint}`);
    process.exitCode = error.exitCode;
    return;
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  if (json) printJson({ error: { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error), hint: ERROR_CATALOGUE.INTERNAL.hint } });
  say(`error: ${message}`);
  process.exitCode = 1;
}

/** Wraps a command handler so every failure ends in a coded message and the right exit status. */
export function handler<A extends JsonFlag>(run: (argv: A) => Promise<void>): (argv: A) => Promise<void> {
  return async (argv: A) => {
    try {
      await run(argv);
    } catch (error) {
      reportError(error, argv.json === true);
    }
  };
}

export function usageExit(message: string): never {
  say(`error USAGE_INVALID: ${message}`);
  say(`hint: ${ERROR_CATALOGUE.USAGE_INVALID.hint}`);
  process.exit(2);
}

export function ms(value: number): string {
  return `${value.toFixed(1)} ms`;
}

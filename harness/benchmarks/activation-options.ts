/** `bench activation` options, named as its flags are: rounds, the agents' sandbox, the servers measured. */
import { SERVERS, type ServerName } from './activation.js';
import type { OptionProblem } from './option-problems.js';

export interface ActivationOptions {
  /** Rounds per server; each runs every variant once, in random order. */
  runs: number;
  sandbox: string;
  servers: ServerName[];
}

export const SERVER_NAMES = Object.keys(SERVERS) as ServerName[];

export const ACTIVATION_DEFAULTS: ActivationOptions = { runs: 30, sandbox: 'auto', servers: ['fixture', 'everything'] };

export function activationOptionProblems(options: ActivationOptions): OptionProblem[] {
  const problems: OptionProblem[] = [];
  if (!(Number.isInteger(options.runs) && options.runs >= 1)) problems.push({ option: 'runs', message: `expected a whole number >= 1, not ${options.runs}` });
  if (options.sandbox.trim() === '') problems.push({ option: 'sandbox', message: 'expected a sandbox (auto picks the strongest available)' });
  const unknown = options.servers.filter((server) => !SERVER_NAMES.includes(server));
  if (options.servers.length === 0 || unknown.length > 0) problems.push({ option: 'servers', message: `expected some of ${SERVER_NAMES.join(', ')}${unknown.length > 0 ? `, not ${unknown.join(', ')}` : ''}` });
  else if (new Set(options.servers).size < options.servers.length) problems.push({ option: 'servers', message: 'expected each server once' });
  return problems;
}

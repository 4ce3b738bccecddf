/** `bench image` options, named as its flags are: the image spec to build and the rounds. */
import type { OptionProblem } from './option-problems.js';

export interface ImageOptions {
  /** The image spec to build and measure. */
  spec: string;
  /** Rounds; each runs every variant once, in random order. */
  runs: number;
}

export function imageOptionProblems(options: ImageOptions): OptionProblem[] {
  return Number.isInteger(options.runs) && options.runs >= 1 ? [] : [{ option: 'runs', message: `expected a whole number >= 1, not ${options.runs}` }];
}

/**
 * A benchmark's options are named as its flags are, in camelCase (`--hold-ms` is `holdMs`), both
 * on the command line and under `options:` in its scenario. Its checks speak in flags
 * (`--rate must be a positive number`, `--backends: expected ...`); these read them as problems of
 * an option, so one check serves both.
 */
import { isMcpWarmError } from '../../runner/errors.js';

export interface OptionProblem {
  /** The option's key, such as `holdMs`. */
  option: string;
  /** What was expected, such as `expected a positive number`. */
  message: string;
}

const camel = (flag: string): string => flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** `holdMs` to `--hold-ms`. */
export function flagOf(option: string): string {
  return `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** `--flag must be X`, `--flag: X` or `--a, --b: X` as a problem of the (first) flag's option. */
export function optionProblemOf(text: string): OptionProblem {
  const mustBe = /^--([a-z0-9-]+) must be (.*)$/.exec(text);
  if (mustBe) return { option: camel(mustBe[1]!), message: `expected ${mustBe[2]}` };
  const named = /^--([a-z0-9-]+)(?:, --[a-z0-9-]+)*: (.*)$/.exec(text);
  if (named) return { option: camel(named[1]!), message: named[2]! };
  return { option: '', message: text };
}

/** Problems as the command line words them: `--flag: message`. */
export function flagProblemText(problem: OptionProblem): string {
  return problem.option === '' ? problem.message : `${flagOf(problem.option)}: ${problem.message}`;
}

/** The problems a check that throws USAGE_INVALID (with `details.problems`, in flags) finds; none when it passes. */
export function problemsOfCheck(check: () => unknown): OptionProblem[] {
  try {
    check();
    return [];
  } catch (error) {
    if (!isMcpWarmError(error) || error.code !== 'USAGE_INVALID') throw error;
    const problems = error.details?.problems;
    return Array.isArray(problems) ? problems.map((text) => optionProblemOf(String(text))) : [{ option: '', message: error.message }];
  }
}

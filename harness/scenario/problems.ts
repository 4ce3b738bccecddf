/** Scenario problems: every one at once, each with its field path and what was expected. */
import { z } from 'zod';
import { McpWarmError } from '../../runner/errors.js';

export interface ScenarioProblem {
  /** Such as `variants[2].size`; `(scenario)` for the document itself. */
  path: string;
  message: string;
}

export const ROOT = '(scenario)';

export function fieldPath(parts: ReadonlyArray<PropertyKey>, prefix = ''): string {
  let path = prefix;
  for (const part of parts) path = typeof part === 'number' ? `${path}[${part}]` : path === '' ? String(part) : `${path}.${String(part)}`;
  return path === '' ? ROOT : path;
}

/** A strict mapping whose unknown keys are reported with the keys it does take. */
export function strictMapping<T extends z.ZodRawShape>(shape: T) {
  const known = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? `expected one of: ${known}` : issue.code === 'invalid_type' ? 'expected a mapping' : undefined),
  });
}

type Issue = z.core.$ZodIssue;

/**
 * The alternative of a union the value was meant to be: of those whose own type matched (no
 * failure at the value itself), the one with the fewest problems.
 */
function intendedAlternative(alternatives: Issue[][]): Issue[] | undefined {
  const typed = alternatives.filter((issues) => !issues.some((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value')));
  return typed.sort((a, b) => a.length - b.length)[0];
}

function problemsOfIssues(issues: readonly Issue[], base: ReadonlyArray<PropertyKey>, prefix: string): ScenarioProblem[] {
  return issues.flatMap((issue) => {
    const path = [...base, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: fieldPath([...path, key], prefix), message: `unknown key (${issue.message})` }));
    }
    if (issue.code === 'invalid_union') {
      // Say what is wrong inside the alternative that was meant, not just that no alternative fits.
      const intended = intendedAlternative(issue.errors);
      if (intended !== undefined) return problemsOfIssues(intended, path, prefix);
    }
    // A missing key (with inputs reported, zod says what it got).
    const missing = issue.code === 'invalid_type' && 'input' in issue && issue.input === undefined;
    return [{ path: fieldPath(path, prefix), message: missing ? `is required: ${issue.message}` : issue.message }];
  });
}

/** zod issues as problems (parse with `reportInput: true` to tell missing keys apart); unknown keys one by one, under their own path. */
export function problemsOf(error: z.ZodError, prefix = ''): ScenarioProblem[] {
  return problemsOfIssues(error.issues, [], prefix);
}

export function scenarioError(file: string, problems: readonly ScenarioProblem[]): McpWarmError {
  const lines = problems.map((problem) => `  ${problem.path}: ${problem.message}`);
  return new McpWarmError('SCENARIO_INVALID', `scenario ${file} has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${lines.join('\n')}`, {
    details: { file, problems },
  });
}

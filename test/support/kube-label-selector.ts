/**
 * Kubernetes label selectors as the API server parses them (`labelSelector=` on list and watch):
 * `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k` (exists) and `!k` (does not exist),
 * joined by commas, all of which must hold. `!=` and `notin` also match objects without the key.
 * Part of the test-only Kubernetes API server.
 */

type Requirement =
  | { key: string; op: 'in' | 'notin'; values: Set<string> }
  | { key: string; op: 'exists' | 'absent' };

export type LabelSelector = (labels: Record<string, string> | undefined) => boolean;

const KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export class SelectorError extends Error {}

/** Splits at commas outside parentheses. */
function splitRequirements(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    if (char === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  return parts.map((part) => part.trim());
}

function checkKey(key: string, text: string): string {
  if (!KEY.test(key)) throw new SelectorError(`unable to parse requirement: invalid label key "${key}" in "${text}"`);
  return key;
}

function checkValue(value: string, text: string): string {
  if (!VALUE.test(value)) throw new SelectorError(`unable to parse requirement: invalid label value "${value}" in "${text}"`);
  return value;
}

function parseRequirement(text: string): Requirement {
  const set = /^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(text);
  if (set) {
    const values = set[3]!.split(',').map((value) => checkValue(value.trim(), text));
    return { key: checkKey(set[1]!, text), op: set[2] as 'in' | 'notin', values: new Set(values) };
  }
  const equality = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(text);
  if (equality) {
    const value = checkValue(equality[3]!, text);
    return { key: checkKey(equality[1]!, text), op: equality[2] === '!=' ? 'notin' : 'in', values: new Set([value]) };
  }
  if (text.startsWith('!')) return { key: checkKey(text.slice(1).trim(), text), op: 'absent' };
  return { key: checkKey(text, text), op: 'exists' };
}

/** Parses a selector; the empty selector matches everything. Throws SelectorError for bad syntax. */
export function parseLabelSelector(text: string | undefined): LabelSelector {
  if (text === undefined || text.trim() === '') return () => true;
  const requirements = splitRequirements(text).map((part) => {
    if (part === '') throw new SelectorError(`unable to parse requirement: empty requirement in "${text}"`);
    return parseRequirement(part);
  });
  return (labels) =>
    requirements.every((requirement) => {
      const value = labels?.[requirement.key];
      switch (requirement.op) {
        case 'exists':
          return value !== undefined;
        case 'absent':
          return value === undefined;
        case 'in':
          return value !== undefined && requirement.values.has(value);
        case 'notin':
          return value === undefined || !requirement.values.has(value);
      }
    });
}

/** Checks labels as the API server validates an object's metadata; returns the problems. */
export function labelProblems(labels: Record<string, unknown> | undefined): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(labels ?? {})) {
    if (!KEY.test(key)) problems.push(`metadata.labels: Invalid value: "${key}": name part must consist of alphanumeric characters, '-', '_' or '.'`);
    if (typeof value !== 'string' || !VALUE.test(value)) {
      problems.push(`metadata.labels: Invalid value: "${String(value)}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`);
    }
  }
  return problems;
}

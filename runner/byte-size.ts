import { McpWarmError } from './errors.js';

const UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  m: 1e6,
  g: 1e9,
  t: 1e12,
  ki: 2 ** 10,
  mi: 2 ** 20,
  gi: 2 ** 30,
  ti: 2 ** 40,
};

/**
 * Parses a byte size as Kubernetes quantities write it (`10Gi`, `500Mi`, `2G`, `1.5Gi`, `1048576`),
 * also accepting a trailing `B` (`10GiB`, `2GB`). Throws SIZE_INVALID with the input quoted.
 */
export function parseByteSize(input: string, what = 'size'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?)?b?\s*$/i.exec(input);
  const unit = match ? (match[2] ?? '').toLowerCase() : undefined;
  if (!match || unit === undefined || !(unit in UNITS)) {
    throw new McpWarmError('SIZE_INVALID', `${what}: cannot read ${JSON.stringify(input)} as a byte size`);
  }
  const bytes = Math.floor(Number(match[1]) * UNITS[unit]!);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new McpWarmError('SIZE_INVALID', `${what}: ${JSON.stringify(input)} is not a positive byte size`);
  }
  return bytes;
}

export function formatBytes(bytes: number): string {
  const steps: Array<[string, number]> = [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ];
  for (const [unit, factor] of steps) {
    if (bytes >= factor) return `${(bytes / factor).toFixed(1)} ${unit}`;
  }
  return `${bytes} B`;
}

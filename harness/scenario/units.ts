/** Durations, rates and bandwidths as scenarios write them, as zod schemas that yield plain numbers. */
import { z } from 'zod';
import { parseBandwidth } from '../cluster/link-model.js';

const DURATION = /^(\d+(?:\.\d+)?)\s*(us|ms|s|m|h)$/;
const SCALE_MS = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** `500ms`, `2s`, `1.5m`, `250us`, or a number of milliseconds; undefined when it is none of those. */
export function parseDurationMs(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = DURATION.exec(value.trim());
  return match ? Number(match[1]) * SCALE_MS[match[2] as keyof typeof SCALE_MS] : undefined;
}

/** A duration in ms; `positive` refuses zero. */
export function durationMs(options: { positive?: boolean } = {}) {
  const expected = `expected a duration such as 500ms, 2s or 1m${options.positive ? ' (more than zero)' : ''}`;
  return z.union([z.string(), z.number()], { error: expected }).transform((value, context) => {
    const ms = parseDurationMs(value);
    if (ms === undefined || (options.positive && ms === 0)) {
      context.addIssue({ code: 'custom', message: expected });
      return z.NEVER;
    }
    return ms;
  });
}

/** Bits per second from `100mbit`, `40Mbit/s`, `1gbit`, `10MB/s`. */
export const bandwidthBitsPerSecond = z.string({ error: 'expected a bandwidth such as 100mbit or 40Mbit/s' }).transform((value, context) => {
  const bits = parseBandwidth(value);
  if (bits === undefined) {
    context.addIssue({ code: 'custom', message: 'expected a bandwidth such as 100mbit, 40Mbit/s or 10MB/s' });
    return z.NEVER;
  }
  return bits;
});

export const positiveInt = (max: number, what = 'a whole number') =>
  z.number({ error: `expected ${what} from 1 to ${max}` }).int(`expected ${what} from 1 to ${max}`).min(1, `expected ${what} from 1 to ${max}`).max(max, `expected ${what} from 1 to ${max}`);

export const positiveNumber = (what: string) => z.number({ error: `expected ${what} (a positive number)` }).positive(`expected ${what} (a positive number)`);

/** Names of variants, images and links: they become file names and result keys. */
export const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const nameSchema = z.string({ error: 'expected a name' }).regex(NAME, 'expected a name of [a-z0-9-], starting with a letter or digit, at most 63 characters');

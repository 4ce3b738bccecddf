/**
 * The workload of a trial: open loop (requests at planned times: constant rate, Poisson, bursts,
 * or a replayed trace) or closed loop (a stated number of clients back to back), for a duration
 * or a count, with a warm-up whose operations are run but not measured.
 */
import { z } from 'zod';
import type { ArrivalPattern, ScheduleLength } from '../load/schedule.js';
import { strictMapping } from './problems.js';
import { durationMs, positiveInt, positiveNumber } from './units.js';

const openSchema = z.discriminatedUnion(
  'pattern',
  [
    strictMapping({ pattern: z.literal('constant'), rate: positiveNumber('a rate per second') }),
    strictMapping({ pattern: z.literal('poisson'), rate: positiveNumber('a rate per second'), seed: z.number().int().optional() }),
    strictMapping({ pattern: z.literal('burst'), size: positiveInt(100_000, 'a burst size'), every: durationMs({ positive: true }) }),
    strictMapping({ pattern: z.literal('trace'), file: z.string({ error: 'expected a file of offsets in ms, relative to the scenario' }).min(1) }),
  ],
  { error: 'expected pattern: constant, poisson, burst or trace' },
);

export const workloadSchema = strictMapping({
  open: openSchema.optional(),
  closed: strictMapping({ concurrency: positiveInt(10_000, 'a concurrency') }).optional(),
  duration: durationMs({ positive: true }).optional(),
  count: positiveInt(10_000_000, 'a count').optional(),
  /** Operations that start (open: are planned) before this are run but not measured. */
  warmup: durationMs().optional(),
  /** Open loop: operations outstanding at most; more are dropped and counted. */
  maxInFlight: positiveInt(1_000_000, 'a limit').optional(),
}).superRefine((workload, context) => {
  if ((workload.open === undefined) === (workload.closed === undefined)) {
    context.addIssue({ code: 'custom', path: [], message: 'expected exactly one of open (arrival pattern) or closed (concurrency)' });
  }
  if ((workload.duration === undefined) === (workload.count === undefined)) {
    context.addIssue({ code: 'custom', path: [], message: 'expected exactly one of duration or count' });
  }
  if (workload.closed !== undefined && workload.maxInFlight !== undefined) {
    context.addIssue({ code: 'custom', path: ['maxInFlight'], message: 'expected only with an open workload (a closed one has its concurrency)' });
  }
});

export type Workload = z.infer<typeof workloadSchema>;
export type OpenArrivals = NonNullable<Workload['open']>;

/** The schedule pattern of an open workload; a trace's offsets come from the loaded file. */
export function arrivalPattern(open: OpenArrivals, seed: number, traces: Readonly<Record<string, readonly number[]>>): ArrivalPattern {
  switch (open.pattern) {
    case 'constant':
      return { pattern: 'constant', ratePerSecond: open.rate };
    case 'poisson':
      return { pattern: 'poisson', ratePerSecond: open.rate, seed: open.seed ?? seed };
    case 'burst':
      return { pattern: 'burst', size: open.size, everyMs: open.every };
    case 'trace':
      return { pattern: 'trace', offsetsMs: traces[open.file] ?? [] };
  }
}

export function scheduleLength(workload: Workload): ScheduleLength {
  return workload.count !== undefined ? { count: workload.count } : { durationMs: workload.duration ?? 0 };
}

/** One line for plans and reports: "open poisson 200/s for 10 s, warm-up 2 s". */
export function describeWorkload(workload: Workload): string {
  const open = workload.open;
  const shape =
    open === undefined
      ? `closed loop, ${workload.closed!.concurrency} concurrent`
      : open.pattern === 'burst'
        ? `open loop, bursts of ${open.size} every ${open.every / 1000} s`
        : open.pattern === 'trace'
          ? `open loop, trace ${open.file}`
          : `open loop, ${open.pattern} ${open.rate}/s`;
  const length = workload.count !== undefined ? `${workload.count} operations` : `${(workload.duration ?? 0) / 1000} s`;
  const extras = [
    workload.warmup ? `warm-up ${workload.warmup / 1000} s` : undefined,
    workload.maxInFlight ? `at most ${workload.maxInFlight} in flight` : undefined,
  ].filter(Boolean);
  return [`${shape}, ${length}`, ...extras].join(', ');
}

/** Trace files the workload replays (to be read by the loader). */
export function traceFiles(workload: Workload | undefined): string[] {
  return workload?.open?.pattern === 'trace' ? [workload.open.file] : [];
}

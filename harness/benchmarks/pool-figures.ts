/** The figures of `bench pool` from its raw samples: pure, so they are tested apart from the run. */
import { summarize, type Summary } from '../measure/stats.js';

export type Tier = 'hot' | 'warm' | 'cold';

/** One activation of the open-loop phase; times in ms from the phase's start. */
export interface ArrivalOutcome {
  plannedMs: number;
  sentMs: number;
  /** When the answer, or the failure, came. */
  answeredMs: number;
  tier?: Tier;
  phases?: Record<string, number>;
  /** The error code when the activation failed (a 503 POOL_EXHAUSTED is an outcome like any other). */
  error?: string;
  errorMessage?: string;
  /** The error code when ending the activation (DELETE) failed. */
  endError?: string;
}

export interface TierFigures {
  count: number;
  /** From the planned arrival to the answer. */
  endToEndMs: Summary;
  queueMs: Summary;
  claimMs: Summary;
}

export interface OpenLoopFigures {
  arrivals: number;
  activated: number;
  errors: Record<string, number>;
  /** The first message seen for each error code. */
  errorExamples: Record<string, string>;
  /** Activations whose DELETE failed, by code. */
  endErrors: Record<string, number>;
  endToEndMs: Summary;
  byTier: Partial<Record<Tier, TierFigures>>;
  /** How late the load generator sent requests (sent minus planned): its own share of the latency. */
  sendLagMs: Summary;
}

const phase = (outcome: ArrivalOutcome, name: string): number => outcome.phases?.[name] ?? Number.NaN;
const numbers = (values: number[]): number[] => values.filter((v) => Number.isFinite(v));

export function openLoopFigures(outcomes: readonly ArrivalOutcome[]): OpenLoopFigures {
  const ok = outcomes.filter((o) => o.error === undefined && o.tier !== undefined);
  const countBy = (codes: Array<string | undefined>): Record<string, number> => {
    const counts: Record<string, number> = {};
    for (const code of codes) if (code !== undefined) counts[code] = (counts[code] ?? 0) + 1;
    return counts;
  };
  const byTier: Partial<Record<Tier, TierFigures>> = {};
  for (const tier of ['hot', 'warm', 'cold'] as const) {
    const served = ok.filter((o) => o.tier === tier);
    if (served.length === 0) continue;
    byTier[tier] = {
      count: served.length,
      endToEndMs: summarize(served.map((o) => o.answeredMs - o.plannedMs)),
      queueMs: summarize(numbers(served.map((o) => phase(o, 'queueMs')))),
      claimMs: summarize(numbers(served.map((o) => phase(o, 'claimMs')))),
    };
  }
  return {
    arrivals: outcomes.length,
    activated: ok.length,
    errors: countBy(outcomes.map((o) => o.error)),
    errorExamples: Object.fromEntries(outcomes.filter((o) => o.error !== undefined).reverse().map((o) => [o.error, o.errorMessage ?? ''])),
    endErrors: countBy(outcomes.map((o) => o.endError)),
    endToEndMs: summarize(ok.map((o) => o.answeredMs - o.plannedMs)),
    byTier,
    sendLagMs: summarize(outcomes.map((o) => o.sentMs - o.plannedMs)),
  };
}

/**
 * The claim phase (finding a warm runner and the compare-and-set) of activations the pool served:
 * warm and cold tiers. A hot activation takes an instance off the shelf and claims nothing.
 */
export function poolClaimMs(activations: ReadonlyArray<{ tier?: Tier; phases?: Record<string, number> }>): Summary {
  return summarize(numbers(activations.filter((a) => a.tier === 'warm' || a.tier === 'cold').map((a) => a.phases?.claimMs ?? Number.NaN)));
}

/** The median of each phase over a variant's activations (phases some activations lack are over those that have them). */
export function phaseMedians(samples: ReadonlyArray<{ phases: Record<string, number> }>): Record<string, number> {
  const names = [...new Set(samples.flatMap((s) => Object.keys(s.phases)))];
  return Object.fromEntries(names.map((name) => [name, summarize(numbers(samples.map((s) => s.phases[name] ?? Number.NaN))).p50]));
}

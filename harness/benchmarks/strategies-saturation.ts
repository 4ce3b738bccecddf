/**
 * The saturation search of `bench strategies`, purely: the figures of one open-loop step, whether
 * the target sustained it, and which rate to offer next. Rates rise along a ladder until a step is
 * not sustained (errors above a share, p99 above a bound, or fewer answers per second than a share
 * of the load offered), then the gap between the highest sustained rate and the lowest failed one
 * is narrowed by geometric bisection. The sustainable rate is the highest sustained rate below the
 * lowest failed one; with one p99 bound for every target, it is each target's throughput at equal p99.
 */
import { scheduleOffsets } from '../load/schedule.js';
import { seededRandom } from '../measure/prng.js';
import { summarize, type Summary } from '../measure/stats.js';

export interface StepCriteria {
  /** Failed or dropped requests over those scheduled, at most (0.01: 1%). */
  maxErrorRate: number;
  /** p99 of the answered requests (from their planned send time) at most. */
  p99BoundMs: number;
  /** Answers per second at least this share of the rate scheduled (0.9: 90%). */
  minAchievedShare: number;
}

export const DEFAULT_MAX_ERROR_RATE = 0.01;
export const DEFAULT_MIN_ACHIEVED_SHARE = 0.9;

/** One scheduled request's outcome, times in ms from the step's start; `latencyMs` from its planned send time. */
export type StepOutcome = { ok: true; plannedMs: number; endedMs: number; latencyMs: number } | { ok: false; plannedMs: number; error: string };

export interface StepFigures {
  /** The rate asked for (the schedule's mean). */
  offeredRate: number;
  /** Requests in the step's schedule (a Poisson schedule has about offeredRate x duration). */
  scheduled: number;
  /** The rate the schedule really holds: its requests over the step's duration. */
  scheduledRate: number;
  durationMs: number;
  answered: number;
  /** Failed requests by kind (DROPPED: never sent, too many outstanding; ABANDONED: unanswered when the step ended). */
  errors: Record<string, number>;
  errorRate: number;
  /**
   * The rate the gateway kept up with: answers per second over the step, divided by one plus the
   * slope of latency against planned send time. A gateway that keeps up answers late requests as
   * fast as early ones (slope 0); one that serves mu of lambda requests per second answers each
   * later than the one before, latency growing by lambda/mu - 1 per unit of time, which gives mu.
   */
  achievedRate: number;
  /** Of the answered requests, from their planned send time. */
  latencyMs: Summary;
}

export interface StepVerdict {
  sustained: boolean;
  /** Why not, one line per criterion missed. */
  reasons: string[];
}

/** Least-squares slope of y against x (0 with fewer than two distinct x). */
export function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const [x, y] of points) {
    covariance += (x - meanX) * (y - meanY);
    variance += (x - meanX) ** 2;
  }
  return variance > 0 ? covariance / variance : 0;
}

export function stepFigures(offeredRate: number, durationMs: number, outcomes: readonly StepOutcome[]): StepFigures {
  const errors: Record<string, number> = {};
  const answered: Array<[number, number]> = [];
  for (const outcome of outcomes) {
    if (outcome.ok) answered.push([outcome.plannedMs, outcome.latencyMs]);
    else errors[outcome.error] = (errors[outcome.error] ?? 0) + 1;
  }
  const backlogGrowth = Math.max(0, slope(answered));
  return {
    offeredRate,
    scheduled: outcomes.length,
    scheduledRate: (outcomes.length * 1000) / durationMs,
    durationMs,
    answered: answered.length,
    errors,
    errorRate: outcomes.length === 0 ? 0 : (outcomes.length - answered.length) / outcomes.length,
    achievedRate: (answered.length * 1000) / durationMs / (1 + backlogGrowth),
    latencyMs: summarize(answered.map(([, latency]) => latency)),
  };
}

/**
 * Whether a step not sustained is worth trying again: a stall from elsewhere on a shared machine
 * delays requests, it does not make a tenth of them fail.
 */
export function worthRetrying(figures: StepFigures): boolean {
  return figures.scheduled > 0 && figures.errorRate <= 0.1;
}

const percent = (share: number): string => `${(share * 100).toFixed(share < 0.1 ? 1 : 0)}%`;

export function judgeStep(figures: StepFigures, criteria: StepCriteria): StepVerdict {
  const reasons: string[] = [];
  if (figures.scheduled === 0) return { sustained: false, reasons: ['nothing was scheduled (the step is too short for its rate)'] };
  if (figures.errorRate > criteria.maxErrorRate) reasons.push(`errors ${percent(figures.errorRate)} > ${percent(criteria.maxErrorRate)}`);
  const p99 = figures.latencyMs.p99;
  if (!(p99 <= criteria.p99BoundMs)) reasons.push(Number.isNaN(p99) ? 'no request was answered' : `p99 ${p99.toFixed(1)} ms > ${criteria.p99BoundMs} ms`);
  // Against the rate the schedule really holds: a short Poisson schedule strays from its mean.
  if (figures.achievedRate < criteria.minAchievedShare * figures.scheduledRate) {
    reasons.push(`${figures.achievedRate.toFixed(1)} answers/s < ${percent(criteria.minAchievedShare)} of the ${figures.scheduledRate.toFixed(1)}/s scheduled`);
  }
  return { sustained: reasons.length === 0, reasons };
}

export interface SearchPlan {
  /** Rising rates, tried in order until one is not sustained. */
  ladder: readonly number[];
  /** Bisection steps after the first failure. */
  refineSteps: number;
}

export interface TriedRate {
  rate: number;
  sustained: boolean;
}

/** Rounded to three significant digits, so rates read well in tables. */
function tidy(rate: number): number {
  return Number(rate.toPrecision(3));
}

/** The next rate to try, or undefined when the search is over. */
export function nextRate(plan: SearchPlan, tried: readonly TriedRate[]): number | undefined {
  const failedAt = tried.findIndex((step) => !step.sustained);
  if (failedAt === -1) return plan.ladder[tried.length];
  const refined = tried.length - 1 - failedAt;
  if (refined >= plan.refineSteps) return undefined;
  const high = lowestFailed(tried)!;
  const low = sustainableRate(tried);
  // Below the first rung, halve; between two rates, their geometric mean (rates are compared by ratio).
  const next = tidy(low === 0 ? high / 2 : Math.sqrt(low * high));
  return next > low && next < high ? next : undefined;
}

function lowestFailed(tried: readonly TriedRate[]): number | undefined {
  const failed = tried.filter((step) => !step.sustained).map((step) => step.rate);
  return failed.length === 0 ? undefined : Math.min(...failed);
}

/** The highest rate sustained below the lowest one that was not (0 when none was sustained). */
export function sustainableRate(tried: readonly TriedRate[]): number {
  const ceiling = lowestFailed(tried) ?? Number.POSITIVE_INFINITY;
  return Math.max(0, ...tried.filter((step) => step.sustained && step.rate < ceiling).map((step) => step.rate));
}

/** Whether some rate was not sustained: if none was, the sustainable rate is only a lower bound. */
export function saturated(tried: readonly TriedRate[]): boolean {
  return tried.some((step) => !step.sustained);
}

/**
 * What a ratio of two sustained rates is worth: a side that sustained the top of its ladder was
 * never saturated, so its rate is only a lower bound, and so is the ratio when that side is the
 * numerator (an upper bound when it is the denominator; unknown when both are).
 */
export type RatioBound = 'exact' | 'lower' | 'upper' | 'unknown';

export function ratioBound(numeratorSaturated: boolean, denominatorSaturated: boolean): RatioBound {
  if (numeratorSaturated) return denominatorSaturated ? 'exact' : 'upper';
  return denominatorSaturated ? 'lower' : 'unknown';
}

/** A geometric ladder: `start`, `start x factor`, ... up to `max`. */
export function geometricLadder(start: number, factor: number, max: number): number[] {
  const ladder: number[] = [];
  for (let rate = start; rate <= max * (1 + 1e-9); rate *= factor) ladder.push(tidy(rate));
  return ladder;
}

/** A step lasts `baseMs`, longer at low rates so it schedules about `minRequests` (a p99 of a handful of requests is their maximum). */
export function stepDurationMs(rate: number, baseMs: number, minRequests: number): number {
  return Math.max(baseMs, Math.ceil((minRequests * 1000) / rate));
}

/**
 * A step's planned send times: evenly spaced, or a Poisson process holding exactly `rate x
 * duration` requests (given their number, a Poisson process's arrival times are independent and
 * uniform over the window). Fixing the count makes every step offer its nominal rate: a short
 * unconditioned schedule strays from it by a fifth or more.
 */
export function stepSchedule(arrivals: 'poisson' | 'constant', rate: number, durationMs: number, seed: number): number[] {
  if (arrivals === 'constant') return scheduleOffsets({ pattern: 'constant', ratePerSecond: rate }, { durationMs });
  const random = seededRandom(seed);
  return Array.from({ length: Math.round((rate * durationMs) / 1000) }, () => random() * durationMs).sort((a, b) => a - b);
}

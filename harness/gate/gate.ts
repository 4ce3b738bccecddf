/**
 * The regression gate on two results documents: p50 (and p90 from 29 samples a side) compared
 * relatively with a bootstrap confidence interval of the log ratio, p99 against absolute limits.
 * Pure: the same documents and options give the same report.
 */
import { McpWarmError } from '../../runner/errors.js';
import { quantile } from '../measure/stats.js';
import { samplesOf, variantNamed } from '../results/read.js';
import type { ResultsDocument, VariantResults } from '../results/schema.js';
import { bootstrapQuantileRatio, DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, type RatioInterval } from './bootstrap.js';
import { minSamplesForQuantileCi, quantileCi } from './quantile-ci.js';
import { limitVerdict, ratioVerdict, type Verdict } from './verdict.js';

export const QUANTILES = { p50: 0.5, p90: 0.9, p99: 0.99 } as const;
export type QuantileName = keyof typeof QUANTILES;
export type RelativeMetric = 'p50' | 'p90';

export interface MetricSpec {
  variant: string;
  metric: RelativeMetric;
}

export const DEFAULT_TOLERANCE = 0.1;

export interface GateOptions {
  /** Default: p50 of every variant both runs have, and p90 where both have enough samples. */
  metrics?: readonly MetricSpec[];
  tolerance?: number;
  /** Variant to its p99 limit in ms. */
  p99MaxMs?: Readonly<Record<string, number>>;
  resamples?: number;
  confidence?: number;
  seed?: number;
}

export interface SideFigure {
  n: number;
  valueMs: number;
  /** Distribution-free interval of the quantile, when n allows one. */
  ci?: { low: number; high: number };
}

export interface MetricResult {
  variant: string;
  label: string;
  metric: QuantileName;
  baseline?: SideFigure;
  candidate: SideFigure;
  ratio?: RatioInterval;
  maxMs?: number;
  verdict: Verdict;
  reason: string;
}

export interface RunRef {
  runId: string;
  benchmark: string;
  startedAt: string;
  revision?: string;
}

export interface GateReport {
  regression: boolean;
  tolerance: number;
  confidence: number;
  resamples: number;
  baseline: RunRef;
  candidate: RunRef;
  results: MetricResult[];
}

export function runRef(document: ResultsDocument): RunRef {
  const revision = document.gitRevision ?? document.machine.gitRevision;
  return { runId: document.runId, benchmark: document.benchmark, startedAt: document.startedAt, ...(revision ? { revision } : {}) };
}

/** `fixture/warm:p50` */
export function parseMetricSpec(text: string): MetricSpec {
  const match = /^(.+):(p50|p90)$/.exec(text);
  if (!match) throw new McpWarmError('USAGE_INVALID', `--metric ${text}: expected VARIANT:p50 or VARIANT:p90 (p99 is gated with --p99-max VARIANT=MS)`);
  return { variant: match[1]!, metric: match[2] as RelativeMetric };
}

/** `fixture/warm=150` */
export function parseLimit(text: string): [string, number] {
  const match = /^(.+)=(\d+(?:\.\d+)?)$/.exec(text);
  if (!match) throw new McpWarmError('USAGE_INVALID', `--p99-max ${text}: expected VARIANT=MILLISECONDS, such as fixture/warm=150`);
  return [match[1]!, Number(match[2])];
}

export function checkTolerance(tolerance: number): number {
  if (!(tolerance >= 0 && tolerance < 10)) throw new McpWarmError('USAGE_INVALID', `--tolerance ${tolerance}: expected a fraction such as 0.10 (10%)`);
  return tolerance;
}

const percent = (ratio: number): string => `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)}%`;

export function figure(samples: readonly number[], q: number, confidence: number): SideFigure {
  const sorted = [...samples].sort((a, b) => a - b);
  const ci = quantileCi(sorted, q, confidence);
  return { n: sorted.length, valueMs: quantile(sorted, q), ...(ci ? { ci: { low: ci.low, high: ci.high } } : {}) };
}

function relativeResult(base: VariantResults, cand: VariantResults, metric: RelativeMetric, options: Required<Omit<GateOptions, 'metrics' | 'p99MaxMs'>>): MetricResult {
  const q = QUANTILES[metric];
  const a = samplesOf(base);
  const b = samplesOf(cand);
  const common = { variant: cand.name, label: cand.label, metric, baseline: figure(a, q, options.confidence), candidate: figure(b, q, options.confidence) };
  const need = minSamplesForQuantileCi(q, options.confidence);
  if (a.length < need || b.length < need) {
    return { ...common, verdict: 'inconclusive', reason: `${metric} needs n >= ${need} a side for a distribution-free interval (has ${a.length} and ${b.length})` };
  }
  if (common.baseline.valueMs <= 0 || common.candidate.valueMs <= 0) return { ...common, verdict: 'inconclusive', reason: 'a quantile of 0 ms has no ratio' };
  const ratio = bootstrapQuantileRatio(a, b, { q, resamples: options.resamples, confidence: options.confidence, seed: options.seed });
  const verdict = ratioVerdict(ratio, options.tolerance);
  const interval = `${percent(ratio.ratio)} (${Math.round(ratio.confidence * 100)}% CI ${percent(ratio.low)} to ${percent(ratio.high)})`;
  const tolerance = `${(options.tolerance * 100).toFixed(0)}%`;
  const reason = {
    regression: `slower by ${interval}: significant and beyond the ${tolerance} tolerance`,
    improvement: `faster by ${interval}: significant and beyond the ${tolerance} tolerance`,
    'no change': `${interval}: the interval stays within ±${tolerance}`,
    inconclusive: `${interval}: the interval reaches beyond ±${tolerance} without a significant change beyond it`,
    'within limit': '',
  }[verdict];
  return { ...common, ratio, verdict, reason };
}

function limitResult(baseline: ResultsDocument, cand: VariantResults, maxMs: number, confidence: number): MetricResult {
  const base = baseline.variants.find((v) => v.name === cand.name);
  const candidate = figure(samplesOf(cand), QUANTILES.p99, confidence);
  const verdict = limitVerdict(candidate.valueMs, maxMs);
  return {
    variant: cand.name,
    label: cand.label,
    metric: 'p99',
    ...(base ? { baseline: figure(samplesOf(base), QUANTILES.p99, confidence) } : {}),
    candidate,
    maxMs,
    verdict,
    reason: `p99 ${candidate.valueMs.toFixed(1)} ms ${verdict === 'regression' ? '>' : '<='} limit ${maxMs} ms`,
  };
}

function defaultMetrics(baseline: ResultsDocument, candidate: ResultsDocument, confidence: number): MetricSpec[] {
  const common = candidate.variants.filter((c) => baseline.variants.some((b) => b.name === c.name));
  if (common.length === 0) {
    throw new McpWarmError('USAGE_INVALID', `the runs have no variant in common (baseline: ${baseline.variants.map((v) => v.name).join(', ')}; candidate: ${candidate.variants.map((v) => v.name).join(', ')})`);
  }
  const p90Need = minSamplesForQuantileCi(QUANTILES.p90, confidence);
  return common.flatMap((c) => {
    const b = baseline.variants.find((v) => v.name === c.name)!;
    const p90 = c.summaryMs.n >= p90Need && b.summaryMs.n >= p90Need ? [{ variant: c.name, metric: 'p90' as const }] : [];
    return [{ variant: c.name, metric: 'p50' as const }, ...p90];
  });
}

export function evaluateGate(baseline: ResultsDocument, candidate: ResultsDocument, options: GateOptions = {}): GateReport {
  const settings = {
    tolerance: checkTolerance(options.tolerance ?? DEFAULT_TOLERANCE),
    resamples: options.resamples ?? DEFAULT_RESAMPLES,
    confidence: options.confidence ?? DEFAULT_CONFIDENCE,
    seed: options.seed ?? 1,
  };
  const metrics = options.metrics && options.metrics.length > 0 ? options.metrics : defaultMetrics(baseline, candidate, settings.confidence);
  const results = metrics.map((spec) =>
    relativeResult(variantNamed(baseline, spec.variant, 'baseline'), variantNamed(candidate, spec.variant, 'candidate'), spec.metric, settings),
  );
  for (const [variant, maxMs] of Object.entries(options.p99MaxMs ?? {})) {
    results.push(limitResult(baseline, variantNamed(candidate, variant, 'candidate'), maxMs, settings.confidence));
  }
  return {
    regression: results.some((r) => r.verdict === 'regression'),
    tolerance: settings.tolerance,
    confidence: settings.confidence,
    resamples: settings.resamples,
    baseline: runRef(baseline),
    candidate: runRef(candidate),
    results,
  };
}

/**
 * From the trials of a run to its figures, purely: per variant the latencies of its measured
 * operations (warm-up trials left out), its phases, its error rate, the counts of its failures
 * and kinds (such as pool tiers), the median of each per-trial metric, and chart series.
 */
import type { VariantInput } from '../results/build.js';
import type { Series } from '../results/schema.js';
import { summarize } from '../measure/stats.js';
import type { PlannedTrial, PlannedVariant, ScenarioPlan } from './plan.js';
import type { VariantFigures } from './thresholds.js';
import type { TrialOutcome } from './drivers/types.js';

export interface TrialRecord {
  trial: PlannedTrial;
  outcome?: TrialOutcome;
  /** The error code when the trial itself failed (its driver could not run it). */
  failed?: string;
}

export interface VariantFacts {
  operations: number;
  errors: Record<string, number>;
  kinds: Record<string, number>;
  metrics: Record<string, number>;
  failedTrials: number;
}

export interface AggregatedRun {
  /** Variants with at least one successful operation, for the results document. */
  variants: VariantInput[];
  figures: VariantFigures[];
  series: Series[];
  facts: Record<string, VariantFacts>;
}

function count(into: Record<string, number>, key: string): void {
  into[key] = (into[key] ?? 0) + 1;
}

/** `cached over wan` or `cached, local` when the scenario compares links (the link's figures are in the facts); the id otherwise. */
function variantLabel(plan: ScenarioPlan, planned: PlannedVariant): string {
  if (new Set(plan.variants.map((v) => v.link.name)).size < 2) return planned.id;
  const over = planned.link.kind === 'shaped' ? ` over ${planned.link.name}` : ', local';
  return `${planned.variant.name}${over}${plan.variants.some((v) => v.substrate !== planned.substrate) ? `, ${planned.substrate}` : ''}`;
}

export function aggregateRun(plan: ScenarioPlan, records: readonly TrialRecord[]): AggregatedRun {
  const measured = records.filter((r) => !r.trial.warmup);
  const variants: VariantInput[] = [];
  const figures: VariantFigures[] = [];
  const facts: Record<string, VariantFacts> = {};
  const series = new Map<string, Series>();

  for (const planned of plan.variants) {
    const mine = measured.filter((r) => r.trial.variantId === planned.id);
    const samples = mine.flatMap((r) => r.outcome?.samples ?? []);
    const ok = samples.filter((s) => s.ok);
    const phases: Record<string, number[]> = {};
    for (const sample of ok) for (const [name, ms] of Object.entries(sample.phases ?? {})) (phases[name] ??= []).push(ms);
    const errors: Record<string, number> = {};
    const kinds: Record<string, number> = {};
    for (const sample of samples) {
      if (!sample.ok) count(errors, sample.error ?? 'ERROR');
      if (sample.kind !== undefined) count(kinds, sample.kind);
    }
    const failedTrials = mine.filter((r) => r.failed !== undefined);
    for (const record of failedTrials) count(errors, record.failed!);
    const metricValues: Record<string, number[]> = {};
    for (const record of mine) for (const [name, value] of Object.entries(record.outcome?.metrics ?? {})) (metricValues[name] ??= []).push(value);
    const metrics = Object.fromEntries(Object.entries(metricValues).map(([name, values]) => [name, summarize(values).p50]));
    const attempts = samples.length + failedTrials.length;
    const latency = summarize(ok.map((s) => s.latencyMs));
    figures.push({
      id: planned.id,
      variant: planned.variant.name,
      latencyMs: { p50: latency.p50, p90: latency.p90, p99: latency.p99, mean: latency.mean, max: latency.max },
      errorRate: attempts === 0 ? Number.NaN : (attempts - ok.length) / attempts,
      metrics,
    });
    facts[planned.id] = { operations: samples.length, errors, kinds, metrics, failedTrials: failedTrials.length };
    if (ok.length > 0) {
      variants.push({
        variant: planned.id,
        label: variantLabel(plan, planned),
        samplesMs: ok.map((s) => s.latencyMs),
        ...(Object.keys(phases).length > 0 ? { phases } : {}),
      });
    }
    for (const record of mine) {
      for (const part of record.outcome?.series ?? []) {
        const chart = series.get(part.id) ?? { id: part.id, title: part.title, x: part.x, y: part.y, lines: [] };
        const line = chart.lines.find((l) => l.name === planned.id) ?? (chart.lines[chart.lines.length] = { name: planned.id, points: [] });
        line.points.push(...part.points);
        series.set(part.id, chart);
      }
    }
  }
  for (const chart of series.values()) for (const line of chart.lines) line.points.sort((a, b) => a[0] - b[0]);
  return { variants, figures, series: [...series.values()], facts };
}

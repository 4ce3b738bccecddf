/**
 * Thresholds as scenarios write them: `p99 < 500ms`, `errors < 0.1%`, `warm-cached: p50 <= 150ms`,
 * `rate >= 200/s`, `hot/wan: p50 < 25ms` (a variant over one link). A threshold names a figure of each variant (or of one, before a colon) and a
 * bound; evaluating it against the figures of a run gives one target line per variant.
 */
import { z } from 'zod';
import type { TargetLine } from '../report/console.js';

export type Comparison = '<' | '<=' | '>' | '>=';

export interface Threshold {
  text: string;
  /** One variant (its name, or its id with the link), or every variant when absent. */
  variant?: string;
  /** p50, p90, p99, mean, max (latency, ms), errors (a fraction), or a figure the driver reports. */
  metric: string;
  comparison: Comparison;
  /** Milliseconds for times, a fraction for percentages, per second for rates. */
  value: number;
}

/** The figures of one variant that thresholds are checked against. */
export interface VariantFigures {
  id: string;
  variant: string;
  latencyMs: { p50: number; p90: number; p99: number; mean: number; max: number };
  errorRate: number;
  metrics: Record<string, number>;
  /** The target a threshold on a figure (p50, errors, a metric) is reported as, instead of `id: figure`. */
  labels?: Record<string, string>;
  /** Judged only by thresholds that name it: a figure derived from others (a ratio, an overhead), with no latency of its own. */
  namedOnly?: boolean;
}

const PATTERN = /^(?:([a-z0-9][a-z0-9/-]*)\s*:\s*)?([a-z][a-z0-9_-]*)\s*(<=|>=|<|>)\s*(\d+(?:\.\d+)?)\s*(ms|s|%|\/s)?$/;
const LATENCY = ['p50', 'p90', 'p99', 'mean', 'max'] as const;

/** The threshold, or a message saying what was expected. */
export function parseThreshold(text: string): Threshold | string {
  const match = PATTERN.exec(text.trim());
  if (!match) return 'expected "[VARIANT:] METRIC OP VALUE" such as "p99 < 500ms", "errors < 0.1%" or "warm: p50 <= 150ms"';
  const [, variant, metric, comparison, number, unit] = match;
  const isLatency = (LATENCY as readonly string[]).includes(metric!);
  if (isLatency && unit !== 'ms' && unit !== 's') return `${metric} is a time: give its bound in ms or s`;
  if (metric === 'errors' && unit !== '%') return 'errors is a rate: give its bound in %';
  const scale = unit === 's' ? 1000 : unit === '%' ? 0.01 : 1;
  return {
    text: text.trim(),
    ...(variant !== undefined ? { variant } : {}),
    metric: metric!,
    comparison: comparison as Comparison,
    value: Number(number) * scale,
  };
}

/** A threshold in a scenario file, parsed; a malformed one is a problem at its path. */
export const thresholdSchema = z.string({ error: 'expected a threshold such as "p99 < 500ms"' }).transform((text, context): Threshold => {
  const parsed = parseThreshold(text);
  if (typeof parsed === 'string') {
    context.addIssue({ code: 'custom', message: parsed });
    return z.NEVER;
  }
  return parsed;
});

function holds(measured: number, comparison: Comparison, bound: number): boolean {
  switch (comparison) {
    case '<':
      return measured < bound;
    case '<=':
      return measured <= bound;
    case '>':
      return measured > bound;
    case '>=':
      return measured >= bound;
  }
}

export function figureOf(figures: VariantFigures, metric: string): number | undefined {
  if ((LATENCY as readonly string[]).includes(metric)) return figures.latencyMs[metric as (typeof LATENCY)[number]];
  if (metric === 'errors') return figures.errorRate;
  return figures.metrics[metric];
}

/** Whether one variant's figures meet a threshold (an unmeasured figure does not). */
export function meets(threshold: Threshold, figures: VariantFigures): boolean {
  const measured = figureOf(figures, threshold.metric);
  return measured !== undefined && Number.isFinite(measured) && holds(measured, threshold.comparison, threshold.value);
}

/** One target line per threshold and variant it applies to. */
export function evaluateThresholds(thresholds: readonly Threshold[], variants: readonly VariantFigures[]): TargetLine[] {
  return thresholds.flatMap((threshold) =>
    variants
      .filter((v) => (threshold.variant === undefined ? !v.namedOnly : threshold.variant === v.variant || threshold.variant === v.id))
      .map((v) => {
        const measured = figureOf(v, threshold.metric) ?? Number.NaN;
        const shown = threshold.metric === 'errors' ? measured * 100 : measured;
        return {
          name: v.labels?.[threshold.metric] ?? `${v.id}: ${threshold.metric}${threshold.metric === 'errors' ? ' (%)' : (LATENCY as readonly string[]).includes(threshold.metric) ? ' (ms)' : ''}`,
          expected: threshold.text.replace(/^[^:]*:\s*/, ''),
          measured: shown,
          met: meets(threshold, v),
        };
      }),
  );
}

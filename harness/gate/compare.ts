/** Two runs side by side: per variant p50, p90 and p99 of each, with bootstrap intervals of their ratio where n allows. */
import { McpWarmError } from '../../runner/errors.js';
import { samplesOf } from '../results/read.js';
import type { ResultsDocument } from '../results/schema.js';
import { bootstrapQuantileRatio, DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES } from './bootstrap.js';
import { QUANTILES, runRef, type QuantileName, type RunRef } from './gate.js';
import { minSamplesForQuantileCi } from './quantile-ci.js';
import { quantile } from '../measure/stats.js';

export interface ComparedQuantile {
  aMs: number;
  bMs: number;
  /** B over A. */
  ratio: number;
  /** The interval of the ratio, when both sides have the samples a distribution-free interval of this quantile needs. */
  low?: number;
  high?: number;
}

export interface ComparedVariant {
  variant: string;
  label: string;
  nA: number;
  nB: number;
  quantiles: Record<QuantileName, ComparedQuantile>;
}

export interface Comparison {
  a: RunRef;
  b: RunRef;
  confidence: number;
  variants: ComparedVariant[];
  onlyInA: string[];
  onlyInB: string[];
}

export function compareRuns(a: ResultsDocument, b: ResultsDocument, options: { resamples?: number; confidence?: number; seed?: number } = {}): Comparison {
  const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
  const variants = b.variants.flatMap((vb): ComparedVariant[] => {
    const va = a.variants.find((v) => v.name === vb.name);
    if (va === undefined) return [];
    const sa = [...samplesOf(va)].sort((x, y) => x - y);
    const sb = [...samplesOf(vb)].sort((x, y) => x - y);
    const compared = (name: QuantileName): ComparedQuantile => {
      const q = QUANTILES[name];
      const aMs = quantile(sa, q);
      const bMs = quantile(sb, q);
      const need = minSamplesForQuantileCi(q, confidence);
      if (sa.length < need || sb.length < need || aMs <= 0) return { aMs, bMs, ratio: bMs / aMs };
      const interval = bootstrapQuantileRatio(sa, sb, { q, confidence, resamples: options.resamples ?? DEFAULT_RESAMPLES, seed: options.seed ?? 1 });
      return { aMs, bMs, ratio: interval.ratio, low: interval.low, high: interval.high };
    };
    return [{ variant: vb.name, label: vb.label, nA: sa.length, nB: sb.length, quantiles: { p50: compared('p50'), p90: compared('p90'), p99: compared('p99') } }];
  });
  if (variants.length === 0) {
    throw new McpWarmError('USAGE_INVALID', `the runs have no variant in common (A: ${a.variants.map((v) => v.name).join(', ')}; B: ${b.variants.map((v) => v.name).join(', ')})`);
  }
  return {
    a: runRef(a),
    b: runRef(b),
    confidence,
    variants,
    onlyInA: a.variants.filter((v) => !b.variants.some((w) => w.name === v.name)).map((v) => v.name),
    onlyInB: b.variants.filter((v) => !a.variants.some((w) => w.name === v.name)).map((v) => v.name),
  };
}

/**
 * Samples in milliseconds kept as HDR histograms of integer microseconds (3 significant digits),
 * encoded as hdr-histogram-js compressed base64: small, mergeable, and exact to 0.1%.
 */
import { createRequire } from 'node:module';
import type * as HdrHistogram from 'hdr-histogram-js';

const SIGNIFICANT_DIGITS = 3;

// Loaded on first use: every mcpwarm command (the agent too) imports this module, and the library takes ~100 ms to load.
const require = createRequire(import.meta.url);
let library: typeof HdrHistogram | undefined;
const hdr = (): typeof HdrHistogram => (library ??= require('hdr-histogram-js') as typeof HdrHistogram);

export function encodeHistogramUs(samplesMs: readonly number[]): string {
  const histogram = hdr().build({ numberOfSignificantValueDigits: SIGNIFICANT_DIGITS });
  for (const ms of samplesMs) histogram.recordValue(Math.max(0, Math.round(ms * 1000)));
  return hdr().encodeIntoCompressedBase64(histogram);
}

/** A histogram's content: each distinct recorded value (bucket median, ms, ascending) with its count. */
export interface HistogramBuckets {
  valuesMs: number[];
  counts: number[];
  totalCount: number;
}

/** Decodes an encoded histogram; throws on anything that is not one. */
export function decodeHistogramUs(encoded: string): HistogramBuckets {
  const histogram = hdr().decodeFromCompressedBase64(encoded);
  if (!(histogram instanceof hdr().JsHistogram)) throw new Error('unexpected histogram implementation');
  const valuesMs: number[] = [];
  const counts: number[] = [];
  const iterator = histogram.recordedValuesIterator;
  iterator.reset();
  while (iterator.hasNext()) {
    const step = iterator.next();
    valuesMs.push(histogram.medianEquivalentValue(step.valueIteratedTo) / 1000);
    counts.push(step.countAtValueIteratedTo);
  }
  return { valuesMs, counts, totalCount: histogram.totalCount };
}

/** Every sample the histogram holds, each at its bucket's median (for statistics when raw samples were not kept). */
export function expandHistogram(buckets: HistogramBuckets): number[] {
  const samples: number[] = [];
  buckets.valuesMs.forEach((value, i) => {
    for (let k = 0; k < buckets.counts[i]!; k += 1) samples.push(value);
  });
  return samples;
}

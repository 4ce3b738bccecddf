/** Reading a results.json, with RESULTS_INVALID for anything that is not one. */
import { readFile } from 'node:fs/promises';
import { McpWarmError } from '../../runner/errors.js';
import { validateResults } from './build.js';
import { decodeHistogramUs, expandHistogram, type HistogramBuckets } from './histogram.js';
import type { ResultsDocument, VariantResults } from './schema.js';

export async function readResults(path: string): Promise<ResultsDocument> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new McpWarmError('RESULTS_INVALID', `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new McpWarmError('RESULTS_INVALID', `${path} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const document = validateResults(json, path);
  for (const variant of document.variants) histogramOf(variant, path);
  return document;
}

/** A variant's histogram, decoded. */
export function histogramOf(variant: VariantResults, source = 'the results'): HistogramBuckets {
  try {
    return decodeHistogramUs(variant.histogramUs);
  } catch (error) {
    throw new McpWarmError('RESULTS_INVALID', `${source}: variant ${variant.name} has an unreadable histogram (${(error as Error).message})`, { cause: error });
  }
}

/** A variant's samples in ms: the raw ones when kept, else every value its histogram holds. */
export function samplesOf(variant: VariantResults): number[] {
  return variant.samplesMs ?? expandHistogram(histogramOf(variant));
}

/** The variant with that name, or USAGE_INVALID naming the ones there are. */
export function variantNamed(document: ResultsDocument, name: string, side: string): VariantResults {
  const variant = document.variants.find((v) => v.name === name);
  if (variant === undefined) {
    throw new McpWarmError('USAGE_INVALID', `variant ${name} is not in the ${side} (run ${document.runId}); it has: ${document.variants.map((v) => v.name).join(', ')}`);
  }
  return variant;
}

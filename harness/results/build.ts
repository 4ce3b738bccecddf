/**
 * Builds a results document from raw samples: the one shape every benchmark writes. Benchmarks
 * hand over `{variant, samplesMs, phases?}`; summaries and histograms are computed here, and the
 * document is checked against the schema before anyone writes it.
 */
import { randomBytes } from 'node:crypto';
import { McpWarmError } from '../../runner/errors.js';
import type { MachineFingerprint } from '../measure/fingerprint.js';
import { summarize } from '../measure/stats.js';
import type { TargetLine } from '../report/console.js';
import { encodeHistogramUs } from './histogram.js';
import { RAW_SAMPLES_LIMIT, RESULTS_SCHEMA_VERSION, resultsSchema, type ResultsDocument, type Series, type VariantResults } from './schema.js';

export interface VariantInput {
  /** Stable key such as `fixture/warm`. */
  variant: string;
  /** Human name for tables and legends (default: the key). */
  label?: string;
  samplesMs: readonly number[];
  /** Phase name to its samples, in the order the phases happen. */
  phases?: Record<string, readonly number[]>;
}

export interface RunInput {
  benchmark: string;
  /** The scenario's name (default: the benchmark) and the options it ran with. */
  scenario?: { name?: string; options: Record<string, unknown> };
  startedAt: string;
  finishedAt?: string;
  machine: MachineFingerprint;
  /** The revision of the code measured (default: the machine's checkout). */
  gitRevision?: string;
  variants: readonly VariantInput[];
  series?: Series[];
  targets?: readonly TargetLine[];
  facts?: Record<string, unknown>;
  /** Default: time, benchmark and a random suffix. */
  runId?: string;
}

/** `20260105-101112-activation-3fa2`: sorts by time, says what ran, unique. */
export function newRunId(benchmark: string, startedAt: string): string {
  const stamp = startedAt.replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const name = benchmark.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'run';
  return `${stamp}-${name}-${randomBytes(2).toString('hex')}`;
}

function variantResults(input: VariantInput): VariantResults {
  const phases = Object.entries(input.phases ?? {}).filter(([, samples]) => samples.length > 0);
  return {
    name: input.variant,
    label: input.label ?? input.variant,
    summaryMs: summarize(input.samplesMs),
    ...(input.samplesMs.length < RAW_SAMPLES_LIMIT ? { samplesMs: [...input.samplesMs] } : {}),
    histogramUs: encodeHistogramUs(input.samplesMs),
    ...(phases.length > 0
      ? {
          phases: phases.map(([name, samples]) => ({
            name,
            summaryMs: summarize(samples),
            ...(samples.length < RAW_SAMPLES_LIMIT ? { samplesMs: [...samples] } : {}),
          })),
        }
      : {}),
  };
}

export function buildResults(input: RunInput): ResultsDocument {
  const empty = input.variants.filter((v) => v.samplesMs.length === 0).map((v) => v.variant);
  if (empty.length > 0) throw new McpWarmError('RESULTS_INVALID', `variants without samples: ${empty.join(', ')}`, { details: { empty } });
  const revision = input.gitRevision ?? input.machine.gitRevision;
  const document = {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    runId: input.runId ?? newRunId(input.benchmark, input.startedAt),
    benchmark: input.benchmark,
    startedAt: input.startedAt,
    finishedAt: input.finishedAt ?? new Date().toISOString(),
    ...(revision !== undefined ? { gitRevision: revision } : {}),
    machine: input.machine,
    scenario: { name: input.scenario?.name ?? input.benchmark, options: input.scenario?.options ?? {} },
    variants: input.variants.map(variantResults),
    ...(input.series && input.series.length > 0 ? { series: input.series } : {}),
    targets: (input.targets ?? []).map((t) => ({ name: t.name, expected: t.expected, measured: Number.isFinite(t.measured) ? t.measured : null, met: t.met })),
    ...(input.facts !== undefined ? { facts: input.facts } : {}),
  };
  return validateResults(document, 'the benchmark');
}

/** Checks a document against the schema; RESULTS_INVALID lists every problem with its field. */
export function validateResults(value: unknown, source: string): ResultsDocument {
  const result = resultsSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => ({
    field: issue.path.length > 0 ? issue.path.join('.') : '(document)',
    message: issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message,
  }));
  const shown = problems.slice(0, 10).map((p) => `${p.field}: ${p.message}`);
  const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more` : '';
  throw new McpWarmError('RESULTS_INVALID', `${source} is not a valid results document: ${shown.join('; ')}${more}`, { details: { problems } });
}

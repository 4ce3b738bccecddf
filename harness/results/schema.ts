/**
 * The results document of a benchmark run (`results.json`), version 1: what ran (benchmark,
 * scenario and its options, revision, machine), and per variant its summary, its raw samples when
 * they are few, an HDR histogram in microseconds, and its phases; optional time series; targets.
 */
import { z } from 'zod';

export const RESULTS_SCHEMA_VERSION = 1;

/** Variants with fewer samples than this keep them raw, next to the histogram. */
export const RAW_SAMPLES_LIMIT = 1000;

// zod's number() refuses NaN and infinities.
const durationMs = z.number().nonnegative();

export const summarySchema = z.strictObject({
  n: z.number().int().positive(),
  min: durationMs,
  p50: durationMs,
  p90: durationMs,
  p99: durationMs,
  max: durationMs,
  mean: durationMs,
});

const phaseSchema = z.strictObject({
  name: z.string().min(1),
  summaryMs: summarySchema,
  samplesMs: z.array(durationMs).optional(),
});

export const variantSchema = z.strictObject({
  /** Stable key used by compare and the gate, such as `fixture/warm`. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, 'expected letters, digits and . _ / -'),
  /** What a reader sees in tables and legends. */
  label: z.string().min(1),
  summaryMs: summarySchema,
  /** Present when there are fewer than RAW_SAMPLES_LIMIT samples. */
  samplesMs: z.array(durationMs).min(1).optional(),
  /** HDR histogram of every sample in integer microseconds (hdr-histogram-js compressed base64). */
  histogramUs: z.string().min(1),
  /** In the order they happen; a stacked bar of their medians shows where the time goes. */
  phases: z.array(phaseSchema).optional(),
});

const axisSchema = z.strictObject({ label: z.string().min(1), unit: z.string().min(1) });

/** A chart of its own, such as pool occupancy over time or latency against offered load. */
export const seriesSchema = z.strictObject({
  /** Its chart is `<id>.png` next to latency-cdf.png and phases.png. */
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]*$/, 'expected a file-name-safe id ([a-z0-9-])')
    .refine((id) => id !== 'latency-cdf' && id !== 'phases', 'latency-cdf and phases are the standard charts'),
  title: z.string().min(1),
  x: axisSchema,
  y: axisSchema,
  /** Values hold until the next point (occupancy) rather than changing linearly (latency against load). */
  stepped: z.boolean().optional(),
  lines: z
    .array(z.strictObject({ name: z.string().min(1), points: z.array(z.tuple([z.number(), z.number()])).min(1) }))
    .min(1),
});

export const targetSchema = z.strictObject({
  name: z.string().min(1),
  expected: z.string(),
  /** null when the figure could not be measured (no samples). */
  measured: z.number().nullable(),
  met: z.boolean(),
});

/** Loose: a benchmark may add what else it measured on (the Docker engine's version, ...). */
export const machineSchema = z.looseObject({
  cpuModel: z.string(),
  cores: z.number().int().positive(),
  memoryBytes: z.number().nonnegative(),
  kernel: z.string(),
  node: z.string(),
  cgroup: z.strictObject({
    version: z.union([z.literal(1), z.literal(2), z.literal('none')]),
    memoryLimitBytes: z.number().optional(),
    cpuQuota: z.number().optional(),
  }),
  gitRevision: z.string().optional(),
  gitDirty: z.boolean().optional(),
  loadAverage1m: z.number(),
});

export const resultsSchema = z.strictObject({
  schemaVersion: z.literal(RESULTS_SCHEMA_VERSION),
  /** Also the run's directory name under reports/runs/. */
  runId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'expected a directory-name-safe id'),
  benchmark: z.string().min(1),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  /** The revision of the code measured (the base revision for a gate's base side). */
  gitRevision: z.string().optional(),
  machine: machineSchema,
  scenario: z.strictObject({ name: z.string().min(1), options: z.record(z.string(), z.unknown()) }),
  variants: z.array(variantSchema).min(1),
  series: z.array(seriesSchema).optional(),
  targets: z.array(targetSchema),
  /** Benchmark-specific particulars: the image measured, the idle agent's memory, ... */
  facts: z.record(z.string(), z.unknown()).optional(),
});

export type ResultsDocument = z.infer<typeof resultsSchema>;
export type VariantResults = z.infer<typeof variantSchema>;
export type Series = z.infer<typeof seriesSchema>;
export type TargetResult = z.infer<typeof targetSchema>;

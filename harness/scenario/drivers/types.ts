/**
 * The runtime side of a driver. A trial driver is started once per run with the run's context (it
 * stands up its own services on the run's teardown stack), then asked to run one trial at a time;
 * a whole-run driver runs one whole benchmark, which interleaves its variants itself. One folder
 * per kind under drivers/; the engine looks a driver up by the scenario's `driver` and never
 * branches on it.
 */
import type { TargetLine } from '../../report/console.js';
import type { ResultsDocument, Series } from '../../results/schema.js';
import type { PlannedTrial, PlannedVariant, ScenarioPlan } from '../plan.js';
import type { Teardown } from '../teardown.js';
import type { VariantFigures } from '../thresholds.js';

export interface RunContext {
  /** Scratch for this run (caches, state, logs); removed at the end. */
  workDir: string;
  /** The reference of an image of the scenario over a registry link. */
  imageRef(image: string, link: string): string;
  /** The digest of an image's config (Docker's image id); undefined for images given by reference. */
  imageConfigDigest(image: string): string | undefined;
  /** Undo steps run in reverse at the end of the run, also on Ctrl-C. */
  teardown: Teardown;
  progress(line: string): void;
  /** Aborted on Ctrl-C (SIGINT) or SIGTERM. */
  signal: AbortSignal;
  /** The scenario file's directory (relative paths in the driver's keys). */
  scenarioDir: string;
  seed: number;
  /** Replayed traces by the file name the scenario gives, as offsets in ms. */
  traces: Readonly<Record<string, readonly number[]>>;
}

/** One measured operation of a trial. */
export interface Sample {
  /** From the planned (open loop) or actual (closed loop) start to the end. */
  latencyMs: number;
  ok: boolean;
  /** The error code (or name) when it failed. */
  error?: string;
  /** Phase name to ms, in the order they happen. */
  phases?: Record<string, number>;
  /** A label to count by, such as the pool tier that served it. */
  kind?: string;
}

export interface TrialOutcome {
  samples: Sample[];
  /** Figures of the whole trial, such as the sustainable rate; reported as the median over trials. */
  metrics?: Record<string, number>;
  /** Points for a chart, per series id and line (the variant); merged over trials. */
  series?: Array<{ id: string; title: string; x: Series['x']; y: Series['y']; points: Array<[number, number]> }>;
}

export interface DriverSession {
  runTrial(trial: PlannedTrial, variant: PlannedVariant): Promise<TrialOutcome>;
  /** Facts for the results (the sandbox used, the Docker version, ...). */
  facts?(): Record<string, unknown>;
}

export interface TrialDriver {
  kind: string;
  start(plan: ScenarioPlan, context: RunContext): Promise<DriverSession>;
}

/** What a run measured, before the scenario's thresholds judge it. */
export interface RunMeasurement {
  /** The figures the thresholds judge. */
  figures: VariantFigures[];
  /** Given the thresholds' verdicts (the run's targets): what the run writes and prints. */
  finish(targets: TargetLine[]): Promise<RunOutputs>;
}

export interface RunOutputs {
  /** The results document; none when the run has no sample at all to put in one. */
  document?: ResultsDocument;
  /** The figures as text, for stderr. */
  report: string[];
  /** What a benchmark command prints with --json (the benchmark's own result, with the targets judged). */
  output: unknown;
}

export interface WholeRunDriver {
  kind: string;
  /** One whole benchmark run: everything it starts is stopped by the time it settles, or registered on the context's teardown. */
  runWhole(plan: ScenarioPlan, context: RunContext): Promise<RunMeasurement>;
}

export type ScenarioDriver = TrialDriver | WholeRunDriver;

/** How long a runner agent may take to listen: as the process substrate's readiness timeout, since an agent run from source starts slowly on a loaded machine. */
export const AGENT_START_TIMEOUT_MS = 60_000;

/** The code of a failure, for counting. */
export function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof (error as { code: unknown }).code === 'string') return (error as { code: string }).code;
  return error instanceof Error ? error.name : 'ERROR';
}

/**
 * Whole-run drivers: one benchmark run as the measurement of a scenario. The benchmark keeps its
 * measurement code (its variants interleaved inside it, in random order); its adapter gives it the
 * run's scratch, progress and teardown, turns its result into the figures the thresholds judge
 * (its targets among them, under their own names), and once they are judged into the results
 * document, the report and what its command prints with --json.
 */
import { CleanupStack } from '../../../runner/cleanup-stack.js';
import type { Summary } from '../../measure/stats.js';
import type { TargetLine } from '../../report/console.js';
import { ScenarioInterrupted } from '../interrupted.js';
import type { Teardown } from '../teardown.js';
import type { VariantFigures } from '../thresholds.js';
import type { RunContext, RunOutputs, WholeRunDriver } from './types.js';

export interface BenchmarkHooks {
  workDir: string;
  /** The scenario file's directory (relative paths in its options). */
  scenarioDir: string;
  /** Progress on stderr. */
  progress(line: string): void;
  /**
   * Progress for a benchmark that stops what it starts in its own `finally`: once the run is
   * aborted, the next call throws, so the benchmark stops there. Only for calls on the
   * benchmark's own awaited path (a throw from a timer would go nowhere).
   */
  progressUntilAborted(line: string): void;
  /** For a benchmark that registers what it starts: the steps run with the run's teardown, in reverse, also on Ctrl-C. */
  cleanups: CleanupStack;
}

export interface BenchmarkAdapter<S, R> {
  kind: string;
  run(spec: S, hooks: BenchmarkHooks): Promise<R>;
  figures(run: R): VariantFigures[];
  /** The run with its targets judged by the thresholds: its results document, report and --json output. */
  outputs(run: R, targets: TargetLine[]): RunOutputs;
}

/** Steps pushed here go on the run's teardown, so a step registered after it ran (a late start) runs at once. */
class TeardownCleanups extends CleanupStack {
  constructor(private readonly teardown: Teardown) {
    super();
  }

  override push(what: string, undo: () => Promise<unknown> | unknown): void {
    this.teardown.push(what, undo);
  }
}

export function wholeRunDriver<S, R>(adapter: BenchmarkAdapter<S, R>): WholeRunDriver {
  return {
    kind: adapter.kind,
    async runWhole(plan, context: RunContext) {
      const run = await adapter.run(plan.spec as S, {
        workDir: context.workDir,
        scenarioDir: context.scenarioDir,
        progress: (line) => context.progress(line),
        progressUntilAborted: (line) => {
          if (context.signal.aborted) throw new ScenarioInterrupted();
          context.progress(line);
        },
        cleanups: new TeardownCleanups(context.teardown),
      });
      const figures = adapter.figures(run);
      return { figures, finish: async (targets) => adapter.outputs(run, targets) };
    },
  };
}

/** The latency figures thresholds read from a summary. */
export function latencyOf(summary: Summary): VariantFigures['latencyMs'] {
  return { p50: summary.p50, p90: summary.p90, p99: summary.p99, mean: summary.mean, max: summary.max };
}

/** A variant's latency figures from its summary; labels name the targets thresholds on it report. */
export function summaryFigures(id: string, variant: string, summary: Summary, labels?: Record<string, string>): VariantFigures {
  return {
    id,
    variant,
    latencyMs: latencyOf(summary),
    errorRate: Number.NaN,
    metrics: {},
    ...(labels ? { labels } : {}),
  };
}

/** A figure derived from others (an overhead, a ratio), judged only by thresholds that name it. */
export function derivedFigures(id: string, variant: string, values: { latencyMs?: Partial<VariantFigures['latencyMs']>; metrics?: Record<string, number> }, labels: Record<string, string>): VariantFigures {
  const nan = Number.NaN;
  return {
    id,
    variant,
    latencyMs: { p50: nan, p90: nan, p99: nan, mean: nan, max: nan, ...values.latencyMs },
    errorRate: nan,
    metrics: values.metrics ?? {},
    labels,
    namedOnly: true,
  };
}

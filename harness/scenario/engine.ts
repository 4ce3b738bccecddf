/**
 * Runs a scenario: loads and plans it, stands up what it needs (the shared services, then the
 * driver's own), runs the planned trials in order (or the driver's whole benchmark run), tears
 * everything down in reverse (also when aborted: Ctrl-C or SIGTERM in the CLI), judges the
 * thresholds, and writes the run: results.json through the results builder, the reports beside
 * it, and reports/latest pointing at it.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ERROR_CATALOGUE, McpWarmError, type ErrorCode } from '../../runner/errors.js';
import { unmountUnder } from '../../runner/mounts.js';
import { machineFingerprint } from '../measure/fingerprint.js';
import { summarize } from '../measure/stats.js';
import { buildResults } from '../results/build.js';
import { writeRun, type WrittenRun } from '../report/run-dir.js';
import type { TargetLine } from '../report/console.js';
import { aggregateRun, type AggregatedRun, type TrialRecord } from './aggregate.js';
import { DRIVERS } from './drivers/index.js';
import { errorCode, type RunContext, type RunMeasurement, type RunOutputs, type TrialDriver } from './drivers/types.js';
import { ScenarioInterrupted } from './interrupted.js';
import { loadScenario, type LoadedScenario } from './loader.js';
import { planScenario, type ScenarioPlan } from './plan.js';
import type { Progress } from './progress.js';
import { trialReportLines } from './report-lines.js';
import type { ScenarioOverrides } from './schema.js';
import { scratchBase } from './scratch.js';
import { imageReference, startSharedServices } from './services.js';
import { RunTeardown } from './teardown.js';
import { evaluateThresholds } from './thresholds.js';

export interface LoadedPlan {
  loaded: LoadedScenario;
  plan: ScenarioPlan;
}

/** Overrides (a command's flags) are merged into the driver's keys, over `quick` too. */
export async function loadAndPlan(file: string, quick: boolean, overrides: ScenarioOverrides = {}): Promise<LoadedPlan> {
  const loaded = await loadScenario(file, overrides);
  return { loaded, plan: planScenario(loaded.scenario, { quick }) };
}

export interface RunScenarioOptions {
  /** Where run directories go (default reports/runs); `latest` is written beside it. */
  runsDir?: string;
  /** Where the run's scratch directory is made (default /dev/shm when it is a tmpfs with room, else the temp dir). */
  workBase?: string;
  /** Values for the driver's `options` or `workload`, winning over the file and its `quick`. */
  overrides?: ScenarioOverrides;
  /** Progress for a run of this many trials. */
  progress: (trials: number) => Progress;
  /** Aborting stops the run at once and tears it down; runScenario then rejects with ScenarioInterrupted. */
  signal: AbortSignal;
}

export interface ScenarioRun extends RunOutputs {
  plan: ScenarioPlan;
  targets: TargetLine[];
  /** The run directory, when there was a results document to write. */
  written?: WrittenRun;
}

async function runTrials(driver: TrialDriver, plan: ScenarioPlan, context: RunContext, progress: Progress, facts: Record<string, unknown>): Promise<TrialRecord[]> {
  const session = await driver.start(plan, context);
  const variants = new Map(plan.variants.map((v) => [v.id, v]));
  const records: TrialRecord[] = [];
  for (const trial of plan.trials) {
    if (context.signal.aborted) break;
    const label = `round ${trial.round}${trial.warmup ? ' (warm-up)' : ''}, ${trial.variantId}`;
    progress.started(trial.index, label);
    try {
      const outcome = await session.runTrial(trial, variants.get(trial.variantId)!);
      records.push({ trial, outcome });
      const ok = outcome.samples.filter((s) => s.ok);
      const failures = outcome.samples.length - ok.length;
      const median = summarize(ok.map((s) => s.latencyMs)).p50;
      progress.finished(trial.index + 1, `${label}: ${ok.length === 1 ? `${median.toFixed(1)} ms` : `${ok.length} ok, median ${median.toFixed(1)} ms`}${failures > 0 ? `, ${failures} failed` : ''}`);
    } catch (error) {
      if (context.signal.aborted) break;
      records.push({ trial, failed: errorCode(error) });
      progress.line(`trial ${trial.index + 1} (${trial.variantId}) failed: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  facts.driver = session.facts?.() ?? {};
  return records;
}

/** Runs the planned trials; their figures are aggregated, and the results document built from them once the thresholds are judged. */
async function measureTrials(driver: TrialDriver, plan: ScenarioPlan, context: RunContext, progress: Progress, facts: Record<string, unknown>, startedAt: string): Promise<RunMeasurement> {
  const aggregated = aggregateRun(plan, await runTrials(driver, plan, context, progress, facts));
  return {
    figures: aggregated.figures,
    finish: async (targets) => {
      if (aggregated.variants.length === 0) {
        const errors = Object.fromEntries(Object.entries(aggregated.facts).map(([id, f]) => [id, f.errors]));
        throw new McpWarmError(dominantCode(aggregated), `scenario ${plan.scenario}: no operation of any variant succeeded (failures by variant: ${JSON.stringify(errors)})`, { details: { errors } });
      }
      const document = buildResults({
        benchmark: plan.scenario,
        scenario: { name: plan.scenario, options: { driver: plan.driver, quick: plan.quick, seed: plan.seed, repetitions: plan.repetitions, warmupRounds: plan.warmupRounds, trials: plan.trials.length } },
        startedAt,
        machine: await machineFingerprint(),
        variants: aggregated.variants,
        series: aggregated.series,
        targets,
        facts: { ...facts, variants: aggregated.facts, workload: plan.trialDescription },
      });
      return { document, report: trialReportLines(plan.scenario, aggregated, targets), output: document };
    },
  };
}

/** An interrupted run waits at most this long for what it was starting, to stop that too. */
const INTERRUPTED_WORK_GRACE_MS = 60_000;

/** The most frequent failure of a run, when it is a catalogued code (INTERNAL otherwise). */
function dominantCode(aggregated: AggregatedRun): ErrorCode {
  const counts: Record<string, number> = {};
  for (const facts of Object.values(aggregated.facts)) for (const [code, n] of Object.entries(facts.errors)) counts[code] = (counts[code] ?? 0) + n;
  const [top] = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return top !== undefined && top[0] in ERROR_CATALOGUE ? (top[0] as ErrorCode) : 'INTERNAL';
}

export async function runScenario(file: string, quick: boolean, options: RunScenarioOptions): Promise<ScenarioRun> {
  const { loaded, plan } = await loadAndPlan(file, quick, options.overrides);
  const { signal } = options;
  const progress = options.progress(plan.trials.length);
  const startedAt = new Date().toISOString();
  const workDir = await mkdtemp(join(options.workBase ?? (await scratchBase()), `mcpwarm-scenario-${plan.scenario}-`));
  // Servers run as their image's user and must reach their rootfs below this directory.
  await chmod(workDir, 0o755);
  const teardown = new RunTeardown();
  const interrupted = new Promise<never>((_, reject) => {
    const abort = (): void => reject(new ScenarioInterrupted());
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
  });
  interrupted.catch(() => undefined);

  const facts: Record<string, unknown> = { driver: plan.driver, file: plan.file };
  const work = (async () => {
    const shared = await startSharedServices({ workDir, links: [...new Set(plan.variants.map((v) => v.link))], images: loaded.scenario.images, imageSpecs: loaded.imageSpecs, teardown, progress: (line) => progress.line(line) });
    facts.links = [...shared.links.values()].map((link) => ({ ...link.spec, method: link.method, ...(link.fallbackReason ? { fallbackReason: link.fallbackReason } : {}) }));
    facts.images = Object.fromEntries([...shared.images].map(([name, image]) => [name, image.digest ?? image.ref]));
    const context: RunContext = {
      workDir,
      imageRef: (image, link) => imageReference(shared, image, link),
      imageConfigDigest: (image) => shared.images.get(image)?.configDigest,
      teardown,
      progress: (line) => progress.line(line),
      signal,
      scenarioDir: dirname(loaded.path),
      seed: plan.seed,
      traces: loaded.traces,
    };
    const driver = DRIVERS[plan.driver]!;
    return 'runWhole' in driver ? driver.runWhole(plan, context) : measureTrials(driver, plan, context, progress, facts, startedAt);
  })();
  work.catch(() => undefined);
  let measurement: RunMeasurement;
  try {
    measurement = await Promise.race([work, interrupted]);
  } finally {
    progress.end();
    progress.line('tearing down');
    for (const failure of await teardown.run()) progress.line(`teardown of ${failure.what} failed: ${(failure.error as Error).message}`);
    if (signal.aborted) {
      // What was starting when the run was stopped registers its undo once it is up (or gives up): those run too.
      await Promise.race([work.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, INTERRUPTED_WORK_GRACE_MS).unref())]);
      for (const failure of await teardown.lateSteps()) progress.line(`teardown of ${failure.what} failed: ${(failure.error as Error).message}`);
    }
    // Last: services still starting read their logs and state from here.
    await unmountUnder(workDir);
    await rm(workDir, { recursive: true, force: true });
  }

  const targets = evaluateThresholds(plan.thresholds, measurement.figures);
  const outputs = await measurement.finish(targets);
  const written = outputs.document ? await writeRun(outputs.document, options.runsDir !== undefined ? { runsDir: options.runsDir } : {}) : undefined;
  return { plan, targets, ...outputs, ...(written ? { written } : {}) };
}

/**
 * `mcpwarm bench run SCENARIO [--quick] [--out DIR] [--json] [--dry-run]`: validates and plans a
 * scenario (`--dry-run` prints the plan and stops), runs it with progress on stderr, and writes
 * the run directory. Ctrl-C (or SIGTERM) stops the run and tears down everything it started.
 * The benchmark commands (`bench image`, ...) run their shipped scenarios the same way.
 */
import type { Argv, CommandModule } from 'yargs';
import { loadAndPlan, runScenario, type ScenarioRun } from '../scenario/engine.js';
import { ScenarioInterrupted } from '../scenario/interrupted.js';
import { formatPlan, type ScenarioPlan } from '../scenario/plan.js';
import { createProgress } from '../scenario/progress.js';
import type { ScenarioOverrides } from '../scenario/schema.js';
import { handler, printJson, say, type JsonFlag } from './output.js';

export interface ScenarioCommandOptions {
  quick: boolean;
  /** Values for the scenario's driver keys (a benchmark command's flags for its `options`). */
  overrides?: ScenarioOverrides;
  /** Directory of run directories. */
  runsDir?: string;
  /** Where the run keeps its scratch. */
  workBase?: string;
}

/**
 * Runs a scenario with progress on stderr; Ctrl-C or SIGTERM stops it, tears down everything it
 * started and exits 130. Prints its figures and where the run was written.
 */
export async function runScenarioCommand(file: string, options: ScenarioCommandOptions): Promise<ScenarioRun> {
  const abort = new AbortController();
  const stop = (signal: NodeJS.Signals): void => {
    say(`${signal}: stopping the run`);
    abort.abort();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const run = await runScenario(file, options.quick, {
      progress: (trials) => createProgress(trials),
      signal: abort.signal,
      ...(options.overrides !== undefined ? { overrides: options.overrides } : {}),
      ...(options.runsDir !== undefined ? { runsDir: options.runsDir } : {}),
      ...(options.workBase !== undefined ? { workBase: options.workBase } : {}),
    });
    for (const line of run.report) say(line);
    say('');
    say(run.written ? `run written to ${run.written.dir} (${run.written.files.join(', ')}); ${run.written.latest} points at it` : 'no run written: the run has no sample to put in one');
    return run;
  } catch (error) {
    if (!(error instanceof ScenarioInterrupted)) throw error;
    say(error.message);
    // Everything was torn down; what the interrupted run still awaits must not hold the exit.
    process.exit(130);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** The plan as --dry-run prints it: text on stderr, and the plan as JSON on stdout with --json. */
export function printPlan(plan: ScenarioPlan, json: boolean): void {
  for (const line of formatPlan(plan)) say(line);
  if (json) printJson(plan);
}

interface BenchRunArgs extends JsonFlag {
  scenario: string;
  quick: boolean;
  out?: string;
  dryRun: boolean;
  workDir?: string;
}

export const benchRunCommand: CommandModule<object, BenchRunArgs> = {
  command: 'run <scenario>',
  describe: 'Run a scenario file (scenarios/*.scenario.yaml) and write its run directory',
  builder: (yargs: Argv) =>
    yargs
      .positional('scenario', { type: 'string', demandOption: true, describe: 'The scenario file' })
      .option('quick', { type: 'boolean', default: false, describe: "Apply the scenario's quick overrides (fewer rounds, variants, shorter workloads)" })
      .option('out', { type: 'string', describe: 'Directory of run directories (default reports/runs; latest is written beside it)' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Validate and print the plan; run nothing' })
      .option('work-dir', { type: 'string', describe: 'Where the run keeps its scratch (default /dev/shm when it is a tmpfs, else the temp dir)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the plan (--dry-run) or the results document on stdout' }) as unknown as Argv<BenchRunArgs>,
  handler: handler(async (argv: BenchRunArgs) => {
    if (argv.dryRun) {
      printPlan((await loadAndPlan(argv.scenario, argv.quick)).plan, argv.json === true);
      return;
    }
    const run = await runScenarioCommand(argv.scenario, {
      quick: argv.quick,
      ...(argv.out !== undefined ? { runsDir: argv.out } : {}),
      ...(argv.workDir !== undefined ? { workBase: argv.workDir } : {}),
    });
    // A run without a results document (no sample at all) prints what its benchmark measured.
    if (argv.json) printJson(run.document ?? run.output);
    if (run.targets.some((target) => !target.met)) process.exitCode = 1;
  }),
};

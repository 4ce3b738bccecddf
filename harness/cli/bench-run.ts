/**
 * `mcpwarm bench run SCENARIO [--quick] [--out DIR] [--json] [--dry-run]`: validates and plans a
 * scenario (`--dry-run` prints the plan and stops), runs it with progress on stderr, and writes
 * the run directory. Ctrl-C (or SIGTERM) stops the run and tears down everything it started.
 */
import type { Argv, CommandModule } from 'yargs';
import { summaryHeader, summaryRow, targetLines } from '../report/console.js';
import { summarize } from '../measure/stats.js';
import { loadAndPlan, runScenario, ScenarioInterrupted, type ScenarioRun } from '../scenario/engine.js';
import { formatPlan } from '../scenario/plan.js';
import { createProgress } from '../scenario/progress.js';
import { handler, printJson, say, type JsonFlag } from './output.js';

interface BenchRunArgs extends JsonFlag {
  scenario: string;
  quick: boolean;
  out?: string;
  dryRun: boolean;
  workDir?: string;
}

function printRun(run: ScenarioRun): void {
  say('');
  say(summaryHeader(`${run.plan.scenario} (ms)`));
  for (const variant of run.aggregated.variants) say(summaryRow(variant.label ?? variant.variant, summarize(variant.samplesMs)));
  for (const [id, facts] of Object.entries(run.aggregated.facts)) {
    const extras = [
      ...Object.entries(facts.metrics).map(([name, value]) => `${name} ${value.toFixed(1)}`),
      ...Object.entries(facts.kinds).map(([kind, n]) => `${kind} ${n}`),
      ...Object.entries(facts.errors).map(([code, n]) => `${code} x${n}`),
    ];
    if (extras.length > 0) say(`  ${id}: ${extras.join(', ')}`);
  }
  if (run.targets.length > 0) {
    say('');
    for (const line of targetLines(run.targets)) say(line);
  }
  say('');
  say(`run written to ${run.written.dir} (${run.written.files.join(', ')}); ${run.written.latest} points at it`);
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
      .option('work-dir', { type: 'string', describe: 'Where the run keeps its scratch (default the temp dir)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the plan (--dry-run) or the results document on stdout' }) as unknown as Argv<BenchRunArgs>,
  handler: handler(async (argv: BenchRunArgs) => {
    if (argv.dryRun) {
      const { plan } = await loadAndPlan(argv.scenario, argv.quick);
      for (const line of formatPlan(plan)) say(line);
      if (argv.json) printJson(plan);
      return;
    }
    const abort = new AbortController();
    const stop = (signal: NodeJS.Signals): void => {
      say(`${signal}: stopping the run`);
      abort.abort();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      const run = await runScenario(argv.scenario, argv.quick, {
        progress: (trials) => createProgress(trials),
        signal: abort.signal,
        ...(argv.out !== undefined ? { runsDir: argv.out } : {}),
        ...(argv.workDir !== undefined ? { workBase: argv.workDir } : {}),
      });
      printRun(run);
      if (argv.json) printJson(run.document);
      if (run.targets.some((target) => !target.met)) process.exitCode = 1;
    } catch (error) {
      if (!(error instanceof ScenarioInterrupted)) throw error;
      say(error.message);
      // Everything was torn down; what the interrupted trial still awaits must not hold the exit.
      process.exit(130);
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  }),
};

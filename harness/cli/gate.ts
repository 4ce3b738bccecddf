import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import type { CleanupStack } from '../../runner/cleanup-stack.js';
import { McpWarmError } from '../../runner/errors.js';
import { buildCheckout, resolveRevision, withWorktree } from '../gate/base-build.js';
import { parseInjectedDelay } from '../../runner/agent/activation.js';
import { calibrate, type CalibrationResult } from '../gate/calibrate.js';
import { checkTolerance, DEFAULT_TOLERANCE, evaluateGate, parseLimit, parseMetricSpec, type GateOptions } from '../gate/gate.js';
import { renderGateMarkdown } from '../gate/markdown.js';
import { checkRuns, measurePair, pairResults, serverName, startRig, type AgentSide } from '../gate/paired-activation.js';
import { machineFingerprint } from '../measure/fingerprint.js';
import { targetLines } from '../report/console.js';
import { DEFAULT_RUNS_DIR, writeRun } from '../report/run-dir.js';
import { readResults } from '../results/read.js';
import type { ResultsDocument } from '../results/schema.js';
import { inScratch } from './bench.js';
import { handler, printJson, say, type JsonFlag } from './output.js';

interface VerdictArgs {
  metric: string[];
  tolerance: number;
  p99Max: string[];
}

interface PairedArgs {
  spec: string;
  runs: number;
  sandbox: string;
  workDir?: string;
}

interface GateArgs extends JsonFlag, VerdictArgs, PairedArgs {
  baseline?: string;
  candidate?: string;
  baseRev?: string;
  outDir: string;
  markdown?: string;
}

interface CalibrateArgs extends JsonFlag, VerdictArgs, PairedArgs {
  pairs: number;
  injectDelayMs?: string;
  check: boolean;
}

function verdictOptions(yargs: Argv): Argv {
  return yargs
    .option('metric', { type: 'string', array: true, default: [] as string[], describe: 'VARIANT:p50 or VARIANT:p90 to compare (default: p50 of every common variant, p90 where n >= 29 a side)' })
    .option('tolerance', { type: 'number', default: DEFAULT_TOLERANCE, describe: 'Relative change that counts (0.10: 10%); set it from A/A runs (gate calibrate)' })
    .option('p99-max', { type: 'string', array: true, default: [] as string[], describe: 'VARIANT=MS: absolute p99 limit for the candidate' });
}

function pairedOptions(yargs: Argv, runs: number): Argv {
  return yargs
    .option('spec', { type: 'string', default: 'scenarios/images/fixture.image.yaml', describe: 'Image both agents activate (with the image cached)' })
    .option('runs', { type: 'number', default: runs, describe: 'Rounds; each activates once on both agents, in random order' })
    .option('sandbox', { type: 'string', default: 'auto', describe: 'Sandbox both agents use' })
    .option('work-dir', { type: 'string', describe: 'Scratch directory for the registry, the agents (and the base worktree) (default: /dev/shm when it is a tmpfs)' });
}

function gateOptions(argv: VerdictArgs): GateOptions {
  return {
    metrics: argv.metric.map(parseMetricSpec),
    tolerance: checkTolerance(argv.tolerance),
    p99MaxMs: Object.fromEntries(argv.p99Max.map(parseLimit)),
  };
}

/** Builds the base revision in a worktree and runs its agent and this tree's interleaved; writes both runs. */
async function sameJob(argv: GateArgs & { baseRev: string }, options: GateOptions): Promise<[ResultsDocument, ResultsDocument]> {
  checkRuns(argv.runs);
  // Refused now rather than after the build and the measurement.
  const variant = `${serverName(argv.spec)}/warm`;
  const named = [...(options.metrics ?? []).map((m) => m.variant), ...Object.keys(options.p99MaxMs ?? {})];
  for (const name of named) if (name !== variant) throw new McpWarmError('USAGE_INVALID', `variant ${name}: the side-by-side run measures only ${variant}`);
  const { top, commit } = await resolveRevision(argv.baseRev, process.cwd());
  say(`base revision ${argv.baseRev} = ${commit}`);
  return inScratch('mcpwarm-gate-', argv.workDir, (workDir: string, cleanups: CleanupStack) =>
    withWorktree(top, commit, join(workDir, 'base-tree'), cleanups, async (tree) => {
      const baseCommand = await buildCheckout(tree, say);
      const machine = await machineFingerprint();
      const rig = await startRig({ workDir, spec: argv.spec, cleanups, progress: say });
      try {
        const sides: readonly [AgentSide, AgentSide] = [{ name: 'base', command: baseCommand, revision: commit }, { name: 'candidate' }];
        const startedAt = new Date().toISOString();
        const samples = await measurePair(rig, { workDir, sandbox: argv.sandbox, runs: argv.runs, sides, cleanups, progress: say });
        const documents = pairResults(rig, samples, { sides, startedAt, machine, options: { runs: argv.runs, sandbox: argv.sandbox, spec: argv.spec, baseRevision: commit } });
        for (const document of documents) say(`${document.scenario.options.side} run written to ${(await writeRun(document, { runsDir: argv.outDir })).dir}`);
        return documents;
      } finally {
        await rig.close();
      }
    }),
  );
}

async function runsToGate(argv: GateArgs, options: GateOptions): Promise<[ResultsDocument, ResultsDocument]> {
  if (argv.baseRev !== undefined) {
    if (argv.baseline !== undefined || argv.candidate !== undefined) throw new McpWarmError('USAGE_INVALID', '--base-rev measures both sides itself: give it without --baseline and --candidate');
    return sameJob({ ...argv, baseRev: argv.baseRev }, options);
  }
  if (argv.baseline === undefined || argv.candidate === undefined) throw new McpWarmError('USAGE_INVALID', 'give --baseline FILE and --candidate FILE, or --base-rev REV');
  return Promise.all([readResults(argv.baseline), readResults(argv.candidate)]);
}

function printCalibration(result: CalibrationResult): void {
  const ratios = (values: number[]) => values.map((r) => r.toFixed(3)).join(' ');
  say('');
  say(`${result.pairs} pairs of ${result.runs} rounds, tolerance ${(result.tolerance * 100).toFixed(0)}%`);
  say(`A/A: ${result.aa.alarms} false alarms (${(result.aa.rate * 100).toFixed(1)}%); p50 ratios: ${ratios(result.aa.p50Ratios)}`);
  if (result.injected) {
    const { delay, medianDelayMs, medianShareOfActivation, alarms, pairs, rate, p50Ratios } = result.injected;
    say(`+${delay} (median ${medianDelayMs.toFixed(1)} ms, ${(medianShareOfActivation * 100).toFixed(0)}% of the agent's own activation time): detected in ${alarms} of ${pairs} pairs (${(rate * 100).toFixed(1)}%); p50 ratios: ${ratios(p50Ratios)}`);
  }
  say('');
  for (const line of targetLines(result.targets)) say(line);
}

const calibrateCommand: CommandModule<object, CalibrateArgs> = {
  command: 'calibrate',
  describe: "Run A/A pairs of the same agent and report the gate's false-alarm rate (and with --inject-delay-ms, its detection rate)",
  builder: (yargs: Argv) =>
    pairedOptions(verdictOptions(yargs), 30)
      .option('pairs', { type: 'number', default: 20, describe: 'A/A pairs (and as many delayed pairs with --inject-delay-ms)' })
      .option('inject-delay-ms', { type: 'string', describe: 'Also run pairs whose candidate agent adds a fixed delay to every activation: milliseconds (20), or a share (20%) of the p50 the A/A pair before it measured' })
      .option('check', { type: 'boolean', default: false, describe: 'Exit 1 when the false-alarm rate is over 5% or the detection rate under 95%' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the calibration as JSON on stdout' }) as unknown as Argv<CalibrateArgs>,
  handler: handler(async (argv: CalibrateArgs) => {
    const gate = gateOptions(argv);
    const injectedDelay = argv.injectDelayMs === undefined ? undefined : parseInjectedDelay(argv.injectDelayMs);
    const result = await inScratch('mcpwarm-gate-calibrate-', argv.workDir, (workDir: string, cleanups: CleanupStack) =>
      calibrate({ pairs: argv.pairs, runs: argv.runs, workDir, spec: argv.spec, sandbox: argv.sandbox, gate, ...(injectedDelay ? { injectedDelay } : {}), cleanups, progress: say }),
    );
    printCalibration(result);
    if (argv.json) printJson(result);
    if (argv.check && result.targets.some((t) => !t.met)) process.exitCode = 1;
  }),
};

const DESCRIBE_GATE = 'Regression gate: a candidate run against a baseline (files, or a base revision built and run side by side); exit 1 on a regression';

// The gate itself is the default subcommand, so `gate calibrate` does not inherit its options.
const compareRunsCommand: CommandModule<object, GateArgs> = {
  command: '$0',
  describe: DESCRIBE_GATE,
  builder: (yargs: Argv) =>
    pairedOptions(verdictOptions(yargs), 30)
      .option('baseline', { type: 'string', describe: 'results.json of the baseline (such as reports/baseline.json)' })
      .option('candidate', { type: 'string', describe: 'results.json of the candidate' })
      .option('base-rev', { type: 'string', describe: "Build this revision in a git worktree and run its agent and this tree's side by side" })
      .option('out-dir', { type: 'string', default: DEFAULT_RUNS_DIR, describe: 'With --base-rev: where both runs are written' })
      .option('markdown', { type: 'string', describe: 'Also write the Markdown verdict to this file (for a pull-request comment)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the verdicts as JSON on stdout' }) as unknown as Argv<GateArgs>,
  handler: handler(async (argv: GateArgs) => {
    const options = gateOptions(argv);
    const [baseline, candidate] = await runsToGate(argv, options);
    const report = evaluateGate(baseline, candidate, options);
    const markdown = renderGateMarkdown(report);
    say(markdown);
    if (argv.markdown) await writeFile(argv.markdown, markdown);
    if (argv.json) printJson(report);
    if (report.regression) process.exitCode = 1;
  }),
};

export const gateCommand: CommandModule = {
  command: 'gate',
  describe: DESCRIBE_GATE,
  builder: (yargs: Argv) => yargs.command(calibrateCommand).command(compareRunsCommand),
  handler: () => undefined,
};

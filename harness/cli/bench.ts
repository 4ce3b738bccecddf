/**
 * `mcpwarm bench image|activation|pool|strategies`: each benchmark is a shipped scenario
 * (scenarios/bench-NAME.scenario.yaml) run by the scenario engine; the flags override its options
 * (`--quick` applies its quick profile), the benchmark's report goes to stderr and its result,
 * with the scenario's thresholds judged as its targets, to stdout with --json.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Argv, CommandModule } from 'yargs';
import { CleanupStack } from '../../runner/cleanup-stack.js';
import { isMcpWarmError, McpWarmError } from '../../runner/errors.js';
import { unmountUnder } from '../../runner/mounts.js';
import { flagProblemText } from '../benchmarks/option-problems.js';
import { DEFAULT_RUNS_DIR } from '../report/run-dir.js';
import { loadAndPlan } from '../scenario/engine.js';
import type { ScenarioProblem } from '../scenario/problems.js';
import { scratchBase } from '../scenario/scratch.js';
import { benchRunCommand, printPlan, runScenarioCommand } from './bench-run.js';
import { handler, printJson, say, type JsonFlag } from './output.js';

/**
 * Runs a benchmark in a scratch directory that is unmounted and removed afterwards, also on Ctrl-C;
 * what the benchmark started and registered on `cleanups` is stopped first, once.
 */
export async function inScratch<T>(prefix: string, chosen: string | undefined, body: (workDir: string, cleanups: CleanupStack) => Promise<T>): Promise<T> {
  const workDir = await mkdtemp(join(chosen ?? (await scratchBase()), prefix));
  const cleanups = new CleanupStack();
  let cleaning: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      for (const failure of await cleanups.run()) say(`cleanup: stopping ${failure.what} failed: ${(failure.error as Error).message}`);
      await unmountUnder(workDir);
      await rm(workDir, { recursive: true, force: true });
    })());
  const interrupted = () => {
    say('interrupted: cleaning up');
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    return await body(workDir, cleanups);
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await cleanUp();
  }
}

/** The scenario a benchmark command runs: scenarios/bench-NAME.scenario.yaml of this checkout. */
function shippedScenario(benchmark: string): string {
  // From the sources (harness/cli) or the build (dist/harness/cli).
  for (const root of ['../../', '../../../']) {
    const path = fileURLToPath(new URL(`${root}scenarios/bench-${benchmark}.scenario.yaml`, import.meta.url));
    if (!existsSync(path)) continue;
    // Shown in the plan and the results: relative when it is below the working directory.
    const shown = relative(process.cwd(), path);
    return shown.startsWith('..') ? path : shown;
  }
  throw new McpWarmError('USAGE_INVALID', `the scenario of bench ${benchmark} (scenarios/bench-${benchmark}.scenario.yaml) is not in this checkout`);
}

interface BenchFlags extends JsonFlag {
  quick: boolean;
  dryRun: boolean;
  workDir?: string;
  out?: string;
  outDir: string;
  check: boolean;
}

function runFlags<T>(yargs: Argv<T>, quick: string): Argv<T> {
  return yargs
    .option('quick', { type: 'boolean', default: false, describe: `Apply the scenario's quick profile (${quick}); flags given win over it` })
    .option('dry-run', { type: 'boolean', default: false, describe: 'Validate the options and print the plan; run nothing' })
    .option('work-dir', { type: 'string', describe: 'Where the run keeps its scratch: caches, rootfs, registry, state (default /dev/shm when it is a tmpfs, else the temp dir)' })
    .option('out', { type: 'string', describe: 'Also write the results JSON to this file' })
    .option('out-dir', { type: 'string', default: DEFAULT_RUNS_DIR, describe: 'Write the run (results.json, report.md, report.html, charts) to DIR/<run id>; DIR/../latest points at it' })
    .option('check', { type: 'boolean', default: false, describe: 'Exit 1 when a target (a threshold of the scenario) is missed' })
    .option('json', { type: 'boolean', default: false, describe: 'Print the results JSON on stdout' }) as Argv<T>;
}

/** Problems of the scenario's options that flags gave, as a usage error naming the flags; any other error as it is. */
function asFlagError(error: unknown, benchmark: string, given: Record<string, unknown>): unknown {
  if (!isMcpWarmError(error) || error.code !== 'SCENARIO_INVALID') return error;
  const problems = (error.details?.problems ?? []) as ScenarioProblem[];
  const options = problems.map((problem) => /^options\.(\w+)$/.exec(problem.path)?.[1]);
  if (problems.length === 0 || options.some((option) => option === undefined || !(option in given))) return error;
  const texts = problems.map((problem, i) => flagProblemText({ option: options[i]!, message: problem.message }));
  return new McpWarmError('USAGE_INVALID', `bench ${benchmark}: ${texts.join('; ')}`, { details: { problems: texts } });
}

/** Runs the benchmark's scenario with the flags given as its options (or plans it); prints and writes what the flags ask. */
async function runBenchmark(benchmark: string, argv: BenchFlags, flags: Record<string, unknown>): Promise<void> {
  const given = Object.fromEntries(Object.entries(flags).filter(([, value]) => value !== undefined));
  const asFlags = (error: unknown): never => {
    throw asFlagError(error, benchmark, given);
  };
  const file = shippedScenario(benchmark);
  if (argv.dryRun) {
    printPlan((await loadAndPlan(file, argv.quick, { options: given }).catch(asFlags)).plan, argv.json === true);
    return;
  }
  const run = await runScenarioCommand(file, {
    quick: argv.quick,
    overrides: { options: given },
    runsDir: argv.outDir,
    ...(argv.workDir !== undefined ? { workBase: argv.workDir } : {}),
  }).catch(asFlags);
  if (argv.out) {
    await mkdir(dirname(argv.out), { recursive: true });
    await writeFile(argv.out, `${JSON.stringify(run.output, null, 2)}\n`);
  }
  if (argv.json) printJson(run.output);
  if (argv.check && run.targets.some((target) => !target.met)) process.exitCode = 1;
}

interface BenchImageArgs extends BenchFlags {
  spec?: string;
  runs?: number;
}

const benchImageCommand: CommandModule<object, BenchImageArgs> = {
  command: 'image',
  describe: 'Pull + unpack against skopeo + tar, and rootfs composition for a cached image (scenarios/bench-image.scenario.yaml)',
  builder: (yargs: Argv) =>
    runFlags(
      yargs
        .option('spec', { type: 'string', describe: 'Image spec to build and measure (default scenarios/images/everything.image.yaml)' })
        .option('runs', { type: 'number', describe: 'Rounds; each runs every variant once, in random order (default 10)' }),
      'the fixture image, 2 rounds',
    ) as unknown as Argv<BenchImageArgs>,
  handler: handler((argv: BenchImageArgs) => runBenchmark('image', argv, { spec: argv.spec === undefined ? undefined : resolve(argv.spec), runs: argv.runs })),
};

interface BenchActivationArgs extends BenchFlags {
  runs?: number;
  sandbox?: string;
  servers?: string[];
}

const benchActivationCommand: CommandModule<object, BenchActivationArgs> = {
  command: 'activation',
  describe: 'Time to initialize answered: bare spawn, agent with the image cached and not cached, and the seed pipeline (scenarios/bench-activation.scenario.yaml)',
  builder: (yargs: Argv) =>
    runFlags(
      yargs
        .option('runs', { type: 'number', describe: 'Rounds per server; each runs every variant once, in random order (default 30)' })
        .option('sandbox', { type: 'string', describe: 'Sandbox the agents use (default auto)' })
        .option('servers', { type: 'string', array: true, choices: ['fixture', 'everything'], describe: 'Servers to measure (default fixture everything)' }),
      'the fixture server, 6 rounds',
    ) as unknown as Argv<BenchActivationArgs>,
  handler: handler((argv: BenchActivationArgs) => runBenchmark('activation', argv, { runs: argv.runs, sandbox: argv.sandbox, servers: argv.servers })),
};

interface BenchPoolArgs extends BenchFlags {
  rate?: number;
  duration?: number;
  size?: number;
  holdMs?: number;
  hot?: number;
  rounds?: number;
  warmupRounds?: number;
  runnerCountForRss?: number;
  server?: string;
  seed?: number;
}

const benchPoolCommand: CommandModule<object, BenchPoolArgs> = {
  command: 'pool',
  describe: 'The pool controller: warm and hot activation side by side with a Docker cold start, Poisson load, refill time and RSS (scenarios/bench-pool.scenario.yaml)',
  builder: (yargs: Argv) =>
    runFlags(
      yargs
        .option('rate', { type: 'number', describe: 'Open loop: mean arrivals per second, Poisson (default 2)' })
        .option('duration', { type: 'number', describe: 'Open loop: seconds of arrivals (default 60)' })
        .option('size', { type: 'number', describe: 'Warm runners in the pool (default 4)' })
        .option('hold-ms', {
          type: 'number',
          describe: "Open loop: how long each activation is held before it is ended (default 1000: a short session; at 2/s the claimed runners, rate x (activation + hold), stay within the pool's max size)",
        })
        .option('hot', { type: 'number', describe: 'Hot instances kept for the image (default 1)' })
        .option('rounds', { type: 'number', alias: 'runs', describe: 'Side-by-side rounds; each runs every variant once, in random order (default 10)' })
        .option('warmup-rounds', { type: 'number', describe: 'Side-by-side rounds run first and not counted (default 1)' })
        .option('runner-count-for-rss', { type: 'number', describe: 'Warm runners when the RSS is read (default 20)' })
        .option('server', { type: 'string', choices: ['everything', 'fixture'], describe: 'Server image (default everything)' })
        .option('seed', { type: 'number', describe: 'Seed of the arrival schedule: the same seed offers the same load (default 1)' }),
      'the fixture server, 10 s of arrivals at 1/s, 2 rounds, the RSS with 4 runners',
    ) as unknown as Argv<BenchPoolArgs>,
  handler: handler((argv: BenchPoolArgs) =>
    runBenchmark('pool', argv, {
      rate: argv.rate,
      duration: argv.duration,
      size: argv.size,
      holdMs: argv.holdMs,
      hot: argv.hot,
      rounds: argv.rounds,
      warmupRounds: argv.warmupRounds,
      runnerCountForRss: argv.runnerCountForRss,
      server: argv.server,
      seed: argv.seed,
    }),
  ),
};

/** `bench strategies`' options, all given as flags (lists comma-separated). */
const STRATEGIES_FLAGS = ['strategies', 'supergateway', 'tools', 'backends', 'sessions', 'stepDuration', 'arrivals', 'fastRates', 'slowRates', 'refine', 'retries', 'fastP99Ms', 'slowP99Ms', 'latencyRounds', 'seed', 'maxInFlight'] as const;

type BenchStrategiesArgs = BenchFlags & Partial<Record<(typeof STRATEGIES_FLAGS)[number], string | number>>;

const benchStrategiesCommand: CommandModule<object, BenchStrategiesArgs> = {
  command: 'strategies',
  describe: "The stdio proxy's strategies against supergateway: added latency, and throughput, latency, servers and memory under rising open-loop load (scenarios/bench-strategies.scenario.yaml)",
  builder: (yargs: Argv) =>
    runFlags(
      yargs
        .option('strategies', { type: 'string', describe: 'Proxy strategies to measure, comma-separated (default s-rard,p-rard,per-session; none)' })
        .option('supergateway', { type: 'string', describe: 'supergateway modes to measure, comma-separated (default stateful,stateless; none)' })
        .option('tools', { type: 'string', describe: 'fast (echo), slow (100 ms), or both (default fast,slow)' })
        .option('backends', { type: 'number', describe: "P-RARD's pool size (default 4)" })
        .option('sessions', { type: 'number', describe: 'MCP sessions the load is spread over, per gateway (default 8)' })
        .option('step-duration', { type: 'number', describe: 'Seconds per rate (default 1.5; low rates run until 20 requests were scheduled)' })
        .option('arrivals', { type: 'string', describe: 'poisson (independent clients; default) or constant (evenly spaced requests)' })
        .option('fast-rates', { type: 'string', describe: 'Rising rates for the fast tool, requests/s (default 50,100,...,3200)' })
        .option('slow-rates', { type: 'string', describe: 'Rising rates for the 100 ms tool (default 5,10,...,320)' })
        .option('refine', { type: 'number', describe: 'Bisection steps after the first rate not sustained (default 2)' })
        .option('retries', { type: 'number', describe: 'Times a rate not sustained is tried again, unless a tenth of its requests failed (default 1: a stall from elsewhere on a shared machine can sink one step)' })
        .option('fast-p99-ms', { type: 'number', describe: 'p99 bound of a sustained step, fast tool (default 100)' })
        .option('slow-p99-ms', { type: 'number', describe: 'p99 bound of a sustained step, 100 ms tool (default 1000)' })
        .option('latency-rounds', { type: 'number', describe: 'Rounds of one call per gateway and client for the added latency (default 300; 0 skips it)' })
        .option('seed', { type: 'number', describe: 'Seed of the arrival schedules and of the round order (default 1)' })
        .option('max-in-flight', { type: 'number', describe: 'Outstanding requests at most; one due beyond is dropped, an error (default 512)' }),
      'preset quick: 4 sessions, two 0.5 s steps per gateway and tool, 20 latency rounds',
    ) as unknown as Argv<BenchStrategiesArgs>,
  handler: handler((argv: BenchStrategiesArgs) => runBenchmark('strategies', argv, Object.fromEntries(STRATEGIES_FLAGS.map((flag) => [flag, argv[flag]])))),
};

export const benchCommand: CommandModule = {
  command: 'bench <suite>',
  describe: 'Benchmarks that print figures, each a shipped scenario (scenarios/bench-*.scenario.yaml), and scenario runs',
  builder: (yargs: Argv) => yargs.command(benchImageCommand).command(benchActivationCommand).command(benchPoolCommand).command(benchStrategiesCommand).command(benchRunCommand).demandCommand(1),
  handler: () => undefined,
};

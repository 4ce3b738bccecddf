import { mkdtemp, rm, writeFile, mkdir, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { CleanupStack } from '../../runner/cleanup-stack.js';
import { unmountUnder } from '../../runner/mounts.js';
import { runImageBenchmark, type ImageBenchResult } from '../benchmarks/image-pipeline.js';
import type { MachineFingerprint } from '../measure/fingerprint.js';
import { summaryHeader, summaryRow, targetLines, type TargetLine } from '../report/console.js';
import { runActivationBenchmark, type ActivationBenchResult, type ServerName } from '../benchmarks/activation.js';
import { checkPoolOptions, runPoolBenchmark, type PoolBenchResult, type SideVariant } from '../benchmarks/pool.js';
import { poolResults } from '../benchmarks/pool-results.js';
import { activationResults, imageResults } from '../results/from-benchmarks.js';
import { DEFAULT_RUNS_DIR, writeRun } from '../report/run-dir.js';
import { strategiesSettings, type StrategiesFlags } from '../benchmarks/strategies-options.js';
import { strategiesReportLines, strategiesResults } from '../benchmarks/strategies-report.js';
import { runStrategiesBenchmark } from '../benchmarks/strategies.js';
import { benchRunCommand } from './bench-run.js';
import { handler, printJson, say, type JsonFlag } from './output.js';
import { defaultDockerdDir } from './paths.js';

interface BenchImageArgs extends JsonFlag {
  spec: string;
  workDir?: string;
  runs: number;
  out?: string;
  outDir: string;
  check: boolean;
}

const TMPFS_MAGIC = 0x01021994;

/**
 * Both pipelines write the same bytes; on a shared VM disk, host writeback makes those writes vary
 * tenfold between runs and drown the difference being measured. tmpfs keeps the comparison about
 * the pipelines (the storage is recorded in the results either way).
 */
async function benchmarkScratchBase(): Promise<string> {
  try {
    const shm = await statfs('/dev/shm');
    if (shm.type === TMPFS_MAGIC && shm.bavail * shm.bsize > 4 * 2 ** 30) return '/dev/shm';
  } catch {
    // no /dev/shm
  }
  return tmpdir();
}

function machineLine(machine: MachineFingerprint): string {
  return `machine: ${machine.cpuModel}, ${machine.cores} cores, ${(machine.memoryBytes / 2 ** 30).toFixed(0)} GiB, kernel ${machine.kernel}, node ${machine.node}, load ${machine.loadAverage1m.toFixed(2)}`;
}

function printImageReport(result: ImageBenchResult): void {
  const { image, variants, machine } = result;
  say('');
  say(`image ${image.reference} (${image.layers} layers, ${(image.compressedBytes / 2 ** 20).toFixed(1)} MiB compressed, ${(image.unpackedBytes / 2 ** 20).toFixed(1)} MiB / ${image.entries} entries unpacked)`);
  say(`storage: ${result.storage.dir} (${result.storage.filesystem})`);
  say(machineLine(machine));
  say('');
  say(summaryHeader('variant (ms)'));
  say(summaryRow('cold: pull + unpack + compose', variants.cold.totalMs));
  say(summaryRow('  resolve', variants.cold.resolveMs));
  say(summaryRow('  pull (streamed into unpack)', variants.cold.pullMs));
  say(summaryRow('  unpack after last byte', variants.cold.unpackMs));
  say(summaryRow(`  compose (${result.composeMode})`, variants.cold.composeMs));
  say(summaryRow('seed: skopeo copy + tar -xf', variants.seed.totalMs));
  say(summaryRow('  skopeo copy', variants.seed.copyMs));
  say(summaryRow('  tar -xf layers', variants.seed.extractMs));
  say(summaryRow('cached: resolve + compose', variants.cached.rootfsReadyMs));
  say(summaryRow('  compose only', variants.cached.composeMs));
  say('');
  for (const line of targetLines(result.targets)) say(line);
}

function printActivationReport(result: ActivationBenchResult): void {
  const { machine } = result;
  say('');
  say(`sandbox ${result.sandbox}, ${result.runs} rounds; idle agent RSS ${(result.idleAgentRssBytes / 2 ** 20).toFixed(1)} MiB`);
  say(machineLine(machine));
  for (const server of result.servers) {
    say('');
    say(summaryHeader(`${server.server}: to initialize answered (ms)`));
    say(summaryRow('bare spawn on the host', server.variants.bare));
    say(summaryRow('agent, image cached', server.variants.warm));
    say(summaryRow('agent, image not cached', server.variants.cold));
    say(summaryRow('seed: skopeo + tar + chroot', server.variants.seed));
    for (const [variant, phases] of Object.entries(server.phases)) {
      say(`  ${variant} phase medians: ${Object.entries(phases).map(([k, v]) => `${k.replace(/Ms$/, '')} ${v.toFixed(1)}`).join(', ')}`);
    }
  }
  say('');
  for (const line of targetLines(result.targets)) say(line);
}

interface BenchActivationArgs extends JsonFlag {
  runs: number;
  sandbox: string;
  servers: ServerName[];
  workDir?: string;
  out?: string;
  outDir: string;
  check: boolean;
}

/**
 * Runs a benchmark in a scratch directory that is unmounted and removed afterwards, also on Ctrl-C;
 * what the benchmark started and registered on `cleanups` is stopped first, once.
 */
export async function inScratch<T>(prefix: string, chosen: string | undefined, body: (workDir: string, cleanups: CleanupStack) => Promise<T>): Promise<T> {
  const workDir = await mkdtemp(join(chosen ?? (await benchmarkScratchBase()), prefix));
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

async function emit(result: { targets: TargetLine[] }, argv: { out?: string; json?: boolean; check: boolean }): Promise<void> {
  if (argv.out) {
    await mkdir(dirname(argv.out), { recursive: true });
    await writeFile(argv.out, `${JSON.stringify(result, null, 2)}\n`);
  }
  if (argv.json) printJson(result);
  if (argv.check && result.targets.some((target) => !target.met)) process.exitCode = 1;
}

const benchActivationCommand: CommandModule<object, BenchActivationArgs> = {
  command: 'activation',
  describe: 'Time to initialize answered: bare spawn, agent with the image cached and not cached, and the seed pipeline',
  builder: (yargs: Argv) =>
    yargs
      .option('runs', { type: 'number', default: 30, describe: 'Rounds per server; each runs every variant once, in random order' })
      .option('sandbox', { type: 'string', default: 'auto', describe: 'Sandbox the agent uses' })
      .option('servers', { type: 'string', array: true, choices: ['fixture', 'everything'], default: ['fixture', 'everything'] })
      .option('work-dir', { type: 'string', describe: 'Where caches and rootfs go (default: /dev/shm when it is a tmpfs)' })
      .option('out', { type: 'string', describe: 'Also write the results JSON to this file' })
      .option('out-dir', { type: 'string', default: DEFAULT_RUNS_DIR, describe: 'Write the run (results.json, report.md, report.html, charts) to DIR/<run id>; DIR/../latest points at it' })
      .option('check', { type: 'boolean', default: false, describe: 'Exit 1 when a target is missed' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the results JSON on stdout' }) as unknown as Argv<BenchActivationArgs>,
  handler: handler(async (argv: BenchActivationArgs) => {
    const result = await inScratch('mcpwarm-bench-activation-', argv.workDir, (workDir) =>
      runActivationBenchmark({ runs: argv.runs, workDir, sandbox: argv.sandbox, servers: argv.servers, progress: (line) => say(line) }),
    );
    printActivationReport(result);
    say(`run written to ${(await writeRun(activationResults(result, {}), { runsDir: argv.outDir })).dir}`);
    await emit(result, argv);
  }),
};

const benchImageCommand: CommandModule<object, BenchImageArgs> = {
  command: 'image',
  describe: 'Pull + unpack against skopeo + tar, and rootfs composition for a cached image',
  builder: (yargs: Argv) =>
    yargs
      .option('spec', { type: 'string', default: 'scenarios/images/everything.image.yaml', describe: 'Image spec to build and measure' })
      .option('runs', { type: 'number', default: 10, describe: 'Rounds; each runs every variant once, in random order' })
      .option('work-dir', { type: 'string', describe: 'Where caches and rootfs go (default: /dev/shm when it is a tmpfs, else the temp dir)' })
      .option('out', { type: 'string', describe: 'Also write the results JSON to this file' })
      .option('out-dir', { type: 'string', default: DEFAULT_RUNS_DIR, describe: 'Write the run (results.json, report.md, report.html, charts) to DIR/<run id>; DIR/../latest points at it' })
      .option('check', { type: 'boolean', default: false, describe: 'Exit 1 when a target is missed' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the results JSON on stdout' }) as unknown as Argv<BenchImageArgs>,
  handler: handler(async (argv: BenchImageArgs) => {
    const result = await inScratch('mcpwarm-bench-image-', argv.workDir, (workDir) =>
      runImageBenchmark({ specPath: argv.spec, runs: argv.runs, workDir, progress: (line) => say(line) }),
    );
    printImageReport(result);
    say(`run written to ${(await writeRun(imageResults(result, { spec: argv.spec }), { runsDir: argv.outDir })).dir}`);
    await emit(result, argv);
  }),
};

const MIB = 2 ** 20;

function printPoolReport(result: PoolBenchResult): void {
  const { config, sideBySide, openLoop, rss, machine } = result;
  say('');
  say(`${config.server} (${config.image.reference}), pool of ${config.size} (max ${config.maxSize}), ${config.hot} hot; Docker engine ${machine.dockerEngine ?? 'none'}`);
  say(machineLine(machine));
  say('');
  say(summaryHeader(`side by side, ${config.rounds} rounds (ms)`));
  const labels: Record<SideVariant, string> = { 'docker-cold': 'docker cold start: pull, run, init', warm: 'warm runner, image cached', hot: 'hot instance' };
  for (const variant of ['docker-cold', 'warm', 'hot'] as const) {
    const figures = sideBySide.variants[variant];
    if (!figures) continue;
    say(summaryRow(labels[variant], figures.summary));
    // A hot activation's other phases are those of the instance made ahead of it, off the clock.
    const phases = Object.entries(figures.phaseMedians).filter(([name]) => variant !== 'hot' || ['queueMs', 'claimMs', 'totalMs'].includes(name));
    say(`    phase medians: ${phases.map(([name, value]) => `${name.replace(/Ms$/, '')} ${value.toFixed(1)}`).join(', ')}`);
  }
  const docker = sideBySide.variants['docker-cold'];
  if (docker) {
    const absent = docker.samples.filter((sample) => sample.imageAbsentBefore).length;
    const shared = docker.samples.filter((sample) => (sample.layersAlreadyPresent ?? 0) > 0).length;
    say(`  docker cold / warm at p50: ${sideBySide.dockerColdOverWarmP50!.toFixed(1)}x (image absent from the engine before ${absent} of ${docker.samples.length} docker rounds)`);
    if (shared > 0) say(`  NOT COLD: in ${shared} docker rounds the engine already had some of the image's layers (other images there share them)`);
  }
  if (sideBySide.dockerSkipped) say(`  docker cold start SKIPPED: ${sideBySide.dockerSkipped}`);
  for (const failure of sideBySide.failures) say(`  FAILED ${failure.variant}, round ${failure.round}: ${failure.code}: ${failure.message.split('\n')[0]}`);
  const uncached = sideBySide.variants.warm?.samples.filter((sample) => !sample.runnerCacheFilled).length ?? 0;
  if (uncached > 0) say(`  ${uncached} warm activations were served by a runner whose cache had not been filled`);
  say('');
  const errors = Object.entries(openLoop.errors).map(([code, n]) => `${code} ${n}`).join(', ') || 'none';
  say(`open loop: ${config.ratePerSecond}/s for ${config.durationS} s (seed ${config.seed}), each held ${config.holdMs} ms: ${openLoop.arrivals} arrivals, ${openLoop.activated} activated, errors: ${errors}`);
  for (const [code, message] of Object.entries(openLoop.errorExamples)) say(`  ${code}, for example: ${message.split('\n')[0]}`);
  say(summaryHeader('from the planned arrival (ms)'));
  say(summaryRow('all activations', openLoop.endToEndMs));
  for (const tier of ['hot', 'warm', 'cold'] as const) {
    const figures = openLoop.byTier[tier];
    if (figures) say(summaryRow(`${tier} tier`, figures.endToEndMs));
  }
  for (const tier of ['warm', 'cold'] as const) {
    const figures = openLoop.byTier[tier];
    if (figures) say(summaryRow(`  queue wait, ${tier} tier`, figures.queueMs));
  }
  say(summaryRow('claim (find + claim), both phases', result.claimMs));
  say(summaryRow('refill: claim to replacement warm', openLoop.refill.afterClaimMs));
  say(summaryRow('runner start: created to warm', openLoop.refill.runnerStartMs));
  say(summaryRow('load generator lateness', openLoop.sendLagMs));
  say(`  controller's own refill estimate ${openLoop.refill.controllerEstimateMs.toFixed(0)} ms; ${openLoop.refill.unreplaced} claims not replaced by the end; peak controller RSS ${(openLoop.controllerPeakRssBytes / MIB).toFixed(1)} MiB`);
  say('');
  say(`RSS with ${rss.runners} warm runners: controller ${(rss.controllerBytes / MIB).toFixed(1)} MiB; ${rss.agentsMeasured} runner agents ${(rss.runnerAgentsBytes / MIB).toFixed(0)} MiB in all (${(rss.perRunnerAgentBytes / MIB).toFixed(1)} MiB each)`);
  say('');
  for (const line of targetLines(result.targets)) say(line);
}

interface BenchPoolArgs extends JsonFlag {
  rate: number;
  duration: number;
  size: number;
  holdMs: number;
  hot: number;
  rounds: number;
  warmupRounds: number;
  runnerCountForRss: number;
  server: ServerName;
  seed: number;
  workDir?: string;
  out?: string;
  outDir: string;
  check: boolean;
}

const benchPoolCommand: CommandModule<object, BenchPoolArgs> = {
  command: 'pool',
  describe: 'The pool controller: warm and hot activation side by side with a Docker cold start, Poisson load, refill time and RSS',
  builder: (yargs: Argv) =>
    yargs
      .option('rate', { type: 'number', default: 2, describe: 'Open loop: mean arrivals per second (Poisson)' })
      .option('duration', { type: 'number', default: 60, describe: 'Open loop: seconds of arrivals' })
      .option('size', { type: 'number', default: 4, describe: 'Warm runners in the pool' })
      .option('hold-ms', {
        type: 'number',
        default: 1000,
        describe: 'Open loop: how long each activation is held before it is ended (a short session; at 2/s the claimed runners, rate x (activation + hold), stay within the pool\'s max size)',
      })
      .option('hot', { type: 'number', default: 1, describe: 'Hot instances kept for the image' })
      .option('rounds', { type: 'number', alias: 'runs', default: 10, describe: 'Side-by-side rounds; each runs every variant once, in random order' })
      .option('warmup-rounds', { type: 'number', default: 1, describe: 'Side-by-side rounds run first and not counted' })
      .option('runner-count-for-rss', { type: 'number', default: 20, describe: 'Warm runners when the RSS is read' })
      .option('server', { type: 'string', choices: ['everything', 'fixture'], default: 'everything' })
      .option('seed', { type: 'number', default: 1, describe: 'Seed of the arrival schedule (the same seed offers the same load)' })
      .option('work-dir', { type: 'string', describe: 'Where the registry, pools and caches go (default: /dev/shm when it is a tmpfs)' })
      .option('out', { type: 'string', describe: 'Also write the results JSON to this file' })
      .option('out-dir', { type: 'string', default: DEFAULT_RUNS_DIR, describe: 'Write the run (results.json, report.md, report.html, charts) to DIR/<run id>; DIR/../latest points at it' })
      .option('check', { type: 'boolean', default: false, describe: 'Exit 1 when a target is missed' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the results JSON on stdout' }) as unknown as Argv<BenchPoolArgs>,
  handler: handler(async (argv: BenchPoolArgs) => {
    const settings = {
      server: argv.server,
      ratePerSecond: argv.rate,
      durationS: argv.duration,
      size: argv.size,
      holdMs: argv.holdMs,
      hot: argv.hot,
      rounds: argv.rounds,
      warmupRounds: argv.warmupRounds,
      rssRunners: argv.runnerCountForRss,
      seed: argv.seed,
    };
    // Bad options are refused before anything starts.
    checkPoolOptions(settings);
    const result = await inScratch('mcpwarm-bench-pool-', argv.workDir, (workDir, cleanups) =>
      runPoolBenchmark({ ...settings, workDir, dockerdStateDir: defaultDockerdDir(), cleanups, progress: (line) => say(line) }),
    );
    printPoolReport(result);
    say(`run written to ${(await writeRun(poolResults(result), { runsDir: argv.outDir })).dir}`);
    await emit(result, argv);
  }),
};

interface BenchStrategiesArgs extends JsonFlag, StrategiesFlags {
  out?: string;
  outDir: string;
  check: boolean;
}

const benchStrategiesCommand: CommandModule<object, BenchStrategiesArgs> = {
  command: 'strategies',
  describe: "The stdio proxy's strategies against supergateway: added latency, and throughput, latency, servers and memory under rising open-loop load",
  builder: (yargs: Argv) =>
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
      .option('max-in-flight', { type: 'number', describe: 'Outstanding requests at most; one due beyond is dropped, an error (default 512)' })
      .option('quick', { type: 'boolean', default: false, describe: 'A smoke run: 4 sessions, two 0.5 s steps per gateway and tool, 20 latency rounds' })
      .option('out', { type: 'string', describe: 'Also write the results JSON to this file' })
      .option('out-dir', { type: 'string', default: DEFAULT_RUNS_DIR, describe: 'Write the run (results.json, report.md, report.html, charts) to DIR/<run id>; DIR/../latest points at it' })
      .option('check', { type: 'boolean', default: false, describe: 'Exit 1 when a target is missed' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the results JSON on stdout' }) as unknown as Argv<BenchStrategiesArgs>,
  handler: handler(async (argv: BenchStrategiesArgs) => {
    // Bad flags are refused before anything starts.
    const settings = strategiesSettings(argv);
    const { result, samples } = await inScratch('mcpwarm-bench-strategies-', undefined, (_workDir, cleanups) =>
      runStrategiesBenchmark({ ...settings, cleanups, progress: (line) => say(line) }),
    );
    for (const line of strategiesReportLines(result)) say(line);
    const document = strategiesResults(result, samples);
    if (document) say(`run written to ${(await writeRun(document, { runsDir: argv.outDir })).dir}`);
    await emit(result, argv);
  }),
};

export const benchCommand: CommandModule = {
  command: 'bench <suite>',
  describe: 'Benchmarks that print figures',
  builder: (yargs: Argv) => yargs.command(benchImageCommand).command(benchActivationCommand).command(benchPoolCommand).command(benchStrategiesCommand).command(benchRunCommand).demandCommand(1),
  handler: () => undefined,
};

import { mkdtemp, rm, writeFile, mkdir, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { unmountUnder } from '../../runner/mounts.js';
import { runImageBenchmark, type ImageBenchResult } from '../benchmarks/image-pipeline.js';
import type { Summary } from '../measure/stats.js';
import { handler, printJson, say, type JsonFlag } from './output.js';

interface BenchImageArgs extends JsonFlag {
  spec: string;
  workDir?: string;
  runs: number;
  out?: string;
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

function row(name: string, s: Summary): string {
  const f = (v: number) => v.toFixed(1).padStart(9);
  return `  ${name.padEnd(34)}${f(s.p50)}${f(s.p90)}${f(s.min)}${f(s.max)}   n=${s.n}`;
}

function printImageReport(result: ImageBenchResult): void {
  const { image, variants, machine } = result;
  say('');
  say(`image ${image.reference} (${image.layers} layers, ${(image.compressedBytes / 2 ** 20).toFixed(1)} MiB compressed, ${(image.unpackedBytes / 2 ** 20).toFixed(1)} MiB / ${image.entries} entries unpacked)`);
  say(`storage: ${result.storage.dir} (${result.storage.filesystem})`);
  say(`machine: ${machine.cpuModel}, ${machine.cores} cores, ${(machine.memoryBytes / 2 ** 30).toFixed(0)} GiB, kernel ${machine.kernel}, node ${machine.node}, load ${machine.loadAverage1m.toFixed(2)}`);
  say('');
  say(`  ${'variant (ms)'.padEnd(34)}${'p50'.padStart(9)}${'p90'.padStart(9)}${'min'.padStart(9)}${'max'.padStart(9)}`);
  say(row('cold: pull + unpack + compose', variants.cold.totalMs));
  say(row('  resolve', variants.cold.resolveMs));
  say(row('  pull (streamed into unpack)', variants.cold.pullMs));
  say(row('  unpack after last byte', variants.cold.unpackMs));
  say(row(`  compose (${result.composeMode})`, variants.cold.composeMs));
  say(row('seed: skopeo copy + tar -xf', variants.seed.totalMs));
  say(row('  skopeo copy', variants.seed.copyMs));
  say(row('  tar -xf layers', variants.seed.extractMs));
  say(row('cached: resolve + compose', variants.cached.rootfsReadyMs));
  say(row('  compose only', variants.cached.composeMs));
  say('');
  for (const target of result.targets) {
    say(`  ${target.met ? 'MET   ' : 'MISSED'} ${target.name}: ${target.measured.toFixed(2)} (target ${target.expected})`);
  }
}

const benchImageCommand: CommandModule<object, BenchImageArgs> = {
  command: 'image',
  describe: 'Pull + unpack against skopeo + tar, and rootfs composition for a cached image',
  builder: (yargs: Argv) =>
    yargs
      .option('spec', { type: 'string', default: 'scenarios/images/everything.image.yaml', describe: 'Image spec to build and measure' })
      .option('runs', { type: 'number', default: 10, describe: 'Rounds; each runs every variant once, in random order' })
      .option('work-dir', { type: 'string', describe: 'Where caches and rootfs go (default: /dev/shm when it is a tmpfs, else the temp dir)' })
      .option('out', { type: 'string', describe: 'Also write the results JSON to this file' })
      .option('check', { type: 'boolean', default: false, describe: 'Exit 1 when a target is missed' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the results JSON on stdout' }) as unknown as Argv<BenchImageArgs>,
  handler: handler(async (argv: BenchImageArgs) => {
    const workDir = await mkdtemp(join(argv.workDir ?? (await benchmarkScratchBase()), 'mcpwarm-bench-image-'));
    const cleanUp = async () => {
      await unmountUnder(workDir);
      await rm(workDir, { recursive: true, force: true });
    };
    const interrupted = () => {
      say('interrupted: cleaning up');
      void cleanUp().finally(() => process.exit(130));
    };
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
    try {
      const result = await runImageBenchmark({ specPath: argv.spec, runs: argv.runs, workDir, progress: (line) => say(line) });
      printImageReport(result);
      if (argv.out) {
        await mkdir(dirname(argv.out), { recursive: true });
        await writeFile(argv.out, `${JSON.stringify(result, null, 2)}\n`);
      }
      if (argv.json) printJson(result);
      if (argv.check && result.targets.some((target) => !target.met)) process.exitCode = 1;
    } finally {
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
      await cleanUp();
    }
  }),
};

export const benchCommand: CommandModule = {
  command: 'bench <suite>',
  describe: 'Benchmarks that print figures',
  builder: (yargs: Argv) => yargs.command(benchImageCommand).demandCommand(1),
  handler: () => undefined,
};

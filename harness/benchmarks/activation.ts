/**
 * `bench activation`: time to "MCP initialize answered", side by side in one run, variants
 * interleaved in random order every round, for each server:
 * - bare: the server spawned on the host (the floor: the server's own start);
 * - warm: agent activation with the image cached;
 * - cold: agent activation with an empty cache (a running agent whose cache is pruned first);
 * - seed: skopeo copy + tar -xf of each layer + chroot exec, as the warm-pool write-up does.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { run, requireExecutable } from '../../runner/exec.js';
import type { InstanceInfo, ActivationPhases } from '../../runner/agent/instance.js';
import { buildAndPublish } from '../../runner/oci/build/publish.js';
import { callJson, errorFromAnswer } from '../../runner/http-json.js';
import { StdioMcpConnection } from '../../runner/mcp/stdio-connection.js';
import { probeReadiness } from '../../runner/mcp/initialize.js';
import { startLocalRegistry } from '../cluster/local-registry.js';
import { machineFingerprint, type MachineFingerprint } from '../measure/fingerprint.js';
import { shuffled, summarize, type Summary } from '../measure/stats.js';
import { startAgentProcess, type AgentProcess } from './agent-process.js';
import { seedPull } from './seed-pipeline.js';
import type { TargetLine } from '../report/console.js';

export interface ActivationBenchOptions {
  runs: number;
  workDir: string;
  sandbox: string;
  servers: ServerName[];
  progress: (line: string) => void;
}

export type ServerName = 'fixture' | 'everything';
type Variant = 'bare' | 'warm' | 'cold' | 'seed';

export interface ServerUnderTest {
  name: ServerName;
  spec: string;
  /** How to run the same server on the host, given a directory for its npm install. */
  hostCommand(workDir: string): Promise<string[]>;
}

/** The MCP servers the benchmarks measure, with the image spec each is built from. */
export const SERVERS: Record<ServerName, ServerUnderTest> = {
  fixture: {
    name: 'fixture',
    spec: 'scenarios/images/fixture.image.yaml',
    hostCommand: async () => [process.execPath, resolve('scenarios/fixtures/mcp-fixture-server/server.mjs')],
  },
  everything: {
    name: 'everything',
    spec: 'scenarios/images/everything.image.yaml',
    hostCommand: async (workDir) => {
      const dir = join(workDir, 'host-everything');
      await mkdir(dir, { recursive: true });
      await run('cp', ['scenarios/images/npm/everything/package.json', 'scenarios/images/npm/everything/package-lock.json', dir]);
      await run(requireExecutable('npm', 'npm'), ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir });
      return [process.execPath, join(dir, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'];
    },
  },
};

/** The median of each phase every activation has (an injected delay is not one of them). */
type PhaseMedians = Record<Exclude<keyof ActivationPhases, 'injectedDelayMs'>, number>;

export interface ServerResult {
  server: ServerName;
  image: { reference: string; digest: string };
  variants: Record<Variant, Summary>;
  phases: { warm: PhaseMedians; cold: PhaseMedians };
  overhead: { p50: number; p99: number };
  coldSpeedupOverSeed: number;
  /** Every measurement, in round order (the summaries above are computed from these). */
  samples: Record<Variant, number[]>;
  phaseSamples: { warm: ActivationPhases[]; cold: ActivationPhases[] };
}

export interface ActivationBenchResult {
  benchmark: 'activation';
  startedAt: string;
  machine: MachineFingerprint;
  sandbox: string;
  runs: number;
  servers: ServerResult[];
  idleAgentRssBytes: number;
  /** The scenario's thresholds judged on the run's figures: none from the run itself, the scenario engine adds them. */
  targets: TargetLine[];
}

const TOKEN = 'bench-activation-token';

/** Spawns argv and resolves with the time until it answered initialize; the process is stopped after. */
async function timeToInitialize(argv: string[], options: { cwd?: string } = {}): Promise<number> {
  const start = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    child.once('exit', (code, signal) => resolveExit({ code, signal })),
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const connection = new StdioMcpConnection(child);
  try {
    await probeReadiness(connection, { timeoutMs: 30_000, stderrTail: () => stderr, exited });
    return performance.now() - start;
  } finally {
    connection.close();
    child.kill('SIGKILL');
    await exited;
  }
}

export async function activateOnce(agent: AgentProcess, image: string): Promise<{ ms: number; info: InstanceInfo }> {
  const unreachable = { code: 'SERVICE_UNREACHABLE', what: 'the agent' } as const;
  const start = performance.now();
  const { status, json } = await callJson(new URL('/activate', agent.url), { method: 'POST', token: agent.token, body: { image }, unreachable });
  const ms = performance.now() - start;
  if (status !== 201) throw errorFromAnswer(json.error ?? {}, status);
  const info = json as InstanceInfo;
  await callJson(new URL(`/instances/${info.instanceId}`, agent.url), { method: 'DELETE', token: agent.token, unreachable });
  return { ms, info };
}

async function pruneCache(agent: AgentProcess): Promise<void> {
  const { status, json } = await callJson(new URL('/cache/prune', agent.url), {
    method: 'POST',
    token: agent.token,
    unreachable: { code: 'SERVICE_UNREACHABLE', what: 'the agent' },
  });
  if (status !== 200) throw errorFromAnswer(json.error ?? {}, status);
}

function medianPhases(samples: ActivationPhases[]): PhaseMedians {
  const keys = ['resolveMs', 'pullMs', 'unpackMs', 'mountMs', 'startMs', 'initializeMs', 'totalMs'] as const;
  return Object.fromEntries(keys.map((key) => [key, summarize(samples.map((s) => s[key])).p50])) as PhaseMedians;
}

export async function runActivationBenchmark(options: ActivationBenchOptions): Promise<ActivationBenchResult> {
  const { workDir, progress } = options;
  const startedAt = new Date().toISOString();
  await mkdir(workDir, { recursive: true });
  // Servers run as the image's user and must reach their rootfs below this directory.
  await chmod(workDir, 0o755);
  const registry = await startLocalRegistry({ dir: join(workDir, 'registry'), port: 0 });
  const warmAgent = await startAgentProcess({ dir: join(workDir, 'warm-agent'), sandbox: options.sandbox, token: TOKEN });
  // "Not cached" means an empty cache on a running agent: its cache is pruned before each activation.
  const coldAgent = await startAgentProcess({ dir: join(workDir, 'cold-agent'), sandbox: options.sandbox, token: TOKEN });
  try {
    // Idle: started, nothing activated yet.
    await new Promise((r) => setTimeout(r, 500));
    const idleAgentRssBytes = await warmAgent.rssBytes();
    const results: ServerResult[] = [];
    for (const name of options.servers) {
      const server = SERVERS[name];
      progress(`${name}: building and pushing ${server.spec}`);
      const published = await buildAndPublish(server.spec, { tag: `${registry.address}/bench/${name}:1`, push: true });
      const hostArgv = await server.hostCommand(workDir);
      const chroot = requireExecutable('chroot', 'coreutils');
      // Warm-up of both agents (and of the cold one's unpack workers); not measured.
      await activateOnce(warmAgent, published.reference);
      await activateOnce(coldAgent, published.reference);

      const samples: Record<Variant, number[]> = { bare: [], warm: [], cold: [], seed: [] };
      const phases: Record<'warm' | 'cold', ActivationPhases[]> = { warm: [], cold: [] };
      const runVariant: Record<Variant, (round: number) => Promise<void>> = {
        bare: async () => {
          samples.bare.push(await timeToInitialize(hostArgv));
        },
        warm: async () => {
          const { ms, info } = await activateOnce(warmAgent, published.reference);
          samples.warm.push(ms);
          phases.warm.push(info.phases);
        },
        cold: async () => {
          await pruneCache(coldAgent);
          const { ms, info } = await activateOnce(coldAgent, published.reference);
          samples.cold.push(ms);
          phases.cold.push(info.phases);
        },
        seed: async (round) => {
          const dir = join(workDir, `seed-${name}-${round}`);
          try {
            const start = performance.now();
            const pulled = await seedPull(published.reference, dir);
            const config = await imageConfigOf(dir);
            const argv = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
            await chmod(pulled.rootfs, 0o755);
            // The seed execs the entrypoint chrooted into the extracted rootfs.
            await timeToInitialize([chroot, `--userspec=${config.User || '0:0'}`, pulled.rootfs, ...argv]);
            samples.seed.push(performance.now() - start);
          } finally {
            await rm(dir, { recursive: true, force: true });
          }
        },
      };
      for (let round = 1; round <= options.runs; round += 1) {
        for (const variant of shuffled<Variant>(['bare', 'warm', 'cold', 'seed'])) await runVariant[variant](round);
        if (round % 5 === 0 || round === options.runs) {
          const last = (v: Variant) => (samples[v][samples[v].length - 1] ?? Number.NaN).toFixed(0);
          progress(`${name} round ${round}/${options.runs}: bare ${last('bare')} ms, warm ${last('warm')} ms, cold ${last('cold')} ms, seed ${last('seed')} ms`);
        }
      }
      const variants = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)])) as Record<Variant, Summary>;
      results.push({
        server: name,
        image: { reference: published.reference, digest: published.digest },
        variants,
        phases: { warm: medianPhases(phases.warm), cold: medianPhases(phases.cold) },
        overhead: { p50: variants.warm.p50 - variants.bare.p50, p99: variants.warm.p99 - variants.bare.p99 },
        coldSpeedupOverSeed: variants.seed.p50 / variants.cold.p50,
        samples,
        phaseSamples: phases,
      });
    }
    return {
      benchmark: 'activation',
      startedAt,
      machine: await machineFingerprint(),
      sandbox: options.sandbox,
      runs: options.runs,
      servers: results,
      idleAgentRssBytes,
      targets: [],
    };
  } finally {
    await coldAgent.stop();
    await warmAgent.stop();
    await registry.stop();
  }
}

async function imageConfigOf(dir: string): Promise<{ Entrypoint?: string[]; Cmd?: string[]; User?: string }> {
  const manifest = JSON.parse(await readFile(join(dir, 'image', 'manifest.json'), 'utf8')) as { config: { digest: string } };
  const config = JSON.parse(await readFile(join(dir, 'image', manifest.config.digest.replace('sha256:', '')), 'utf8')) as {
    config?: { Entrypoint?: string[]; Cmd?: string[]; User?: string };
  };
  return config.config ?? {};
}

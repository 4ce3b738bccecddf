/**
 * `bench pool`: the pool controller (process substrate) against a Docker cold start, in one run.
 *
 * 1. Open loop: Poisson arrivals against the pool with its hot tier, each activation held for a
 *    while and then ended; latency by tier from the planned arrival, errors by code, and refill
 *    times read from the pool's runners.
 * 2. Side by side on the same pool, each round's variants in random order, the pool quiet before each:
 *    - docker-cold: the image removed from the engine, then pulled, run and initialized (layers
 *      other images share, such as the runner image's Node runtime, stay in the engine);
 *    - docker-cold-clean: the same on a second engine of the benchmark's own whose storage holds
 *      nothing else, so every layer is pulled and unpacked: a freshly made node;
 *    - warm: an activation claimed from a warm runner whose cache has the image;
 *    - hot: an activation answered from the hot tier.
 * 3. The controller's and its runner agents' RSS with a given number of warm runners.
 *
 * Everything it starts registers its teardown on `cleanups`, which the caller runs (after
 * success, failure or an interrupt); each phase's controller is also stopped when its phase ends.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CleanupStack } from '../../runner/cleanup-stack.js';
import { isMcpWarmError, McpWarmError } from '../../runner/errors.js';
import { errorFromAnswer } from '../../runner/http-json.js';
import { buildAndPublish } from '../../runner/oci/build/publish.js';
import { formatReference, parseReference } from '../../runner/oci/reference.js';
import { RegistryClient } from '../../runner/oci/registry-client.js';
import { ensureDockerd, startPrivateDockerd, stopDockerd } from '../cluster/dockerd.js';
import { startLocalRegistry } from '../cluster/local-registry.js';
import { machineFingerprint, type MachineFingerprint } from '../measure/fingerprint.js';
import { shuffled, summarize, type Summary } from '../measure/stats.js';
import type { TargetLine } from '../report/console.js';
import { SERVERS, type ServerName } from './activation.js';
import { startControllerProcess, type ControllerProcess } from './controller-process.js';
import { DockerColdStarts } from './docker-cold-start.js';
import { runOpenLoop, type OpenLoopResult } from './open-loop.js';
import { phaseMedians, poolClaimMs, type Tier } from './pool-figures.js';

export interface PoolBenchOptions {
  server: ServerName;
  ratePerSecond: number;
  durationS: number;
  size: number;
  /** How long each open-loop activation is held before it is ended. */
  holdMs: number;
  /** Hot instances kept for the image. */
  hot: number;
  rounds: number;
  /** Side-by-side rounds run first and not counted (first requests, first pull from the registry). */
  warmupRounds: number;
  /** Warm runners for the RSS reading. */
  rssRunners: number;
  seed: number;
  workDir: string;
  /** Where a Docker engine started for the benchmark keeps its log and pid. */
  dockerdStateDir: string;
  cleanups: CleanupStack;
  progress: (line: string) => void;
}

export type SideVariant = 'docker-cold' | 'docker-cold-clean' | 'warm' | 'hot';

const DOCKER_VARIANTS: readonly SideVariant[] = ['docker-cold', 'docker-cold-clean'];

export interface SideSample {
  round: number;
  /** To the answer: the controller's 201, or the server's initialize answer in the container. */
  ms: number;
  tier?: Tier;
  phases: Record<string, number>;
  /** Docker rounds: whether the image, and each of its layers, was absent from the engine before the pull. */
  imageAbsentBefore?: boolean;
  layersAlreadyPresent?: number;
  /** Warm rounds: the runner that served it had the image in its cache. */
  runnerCacheFilled?: boolean;
}

export interface SideFailure {
  round: number;
  variant: SideVariant;
  code: string;
  message: string;
}

export interface PoolBenchResult {
  benchmark: 'pool';
  startedAt: string;
  machine: MachineFingerprint & { dockerEngine: string | null };
  config: Omit<PoolBenchOptions, 'workDir' | 'dockerdStateDir' | 'cleanups' | 'progress'> & { image: { reference: string; digest: string }; maxSize: number };
  sideBySide: {
    variants: Partial<Record<SideVariant, { summary: Summary; phaseMedians: Record<string, number>; samples: SideSample[] }>>;
    /** Activations (and Docker runs) that failed, warm-up rounds included; they are not in the figures. */
    failures: SideFailure[];
    dockerColdOverWarmP50?: number;
    /** The same on the engine with empty storage. */
    dockerColdCleanOverWarmP50?: number;
    /** Why the Docker variant did not run, when it did not. */
    dockerSkipped?: string;
  };
  openLoop: OpenLoopResult;
  claimMs: Summary;
  /** With `runners` warm: the controller's VmRSS, and its runner agents' (each from its metrics). */
  rss: { runners: number; agentsMeasured: number; controllerBytes: number; runnerAgentsBytes: number; perRunnerAgentBytes: number };
  /** The scenario's thresholds judged on the run's figures: none from the run itself, the scenario engine adds them. */
  targets: TargetLine[];
}

export function checkPoolOptions(options: Pick<PoolBenchOptions, 'ratePerSecond' | 'durationS' | 'size' | 'holdMs' | 'hot' | 'rounds' | 'warmupRounds' | 'rssRunners' | 'seed'>): void {
  const problems: string[] = [];
  const positive = { ratePerSecond: '--rate', durationS: '--duration' } as const;
  for (const [key, flag] of Object.entries(positive)) if (!(options[key as keyof typeof positive] > 0)) problems.push(`${flag} must be a positive number`);
  const counts = { size: '--size', hot: '--hot', rounds: '--rounds', rssRunners: '--runner-count-for-rss' } as const;
  for (const [key, flag] of Object.entries(counts)) if (!(Number.isInteger(options[key as keyof typeof counts]) && options[key as keyof typeof counts] >= 1)) problems.push(`${flag} must be a whole number >= 1`);
  if (!(options.holdMs >= 0)) problems.push('--hold-ms must be >= 0');
  if (!(Number.isInteger(options.warmupRounds) && options.warmupRounds >= 0)) problems.push('--warmup-rounds must be a whole number >= 0');
  if (!Number.isInteger(options.seed)) problems.push('--seed must be a whole number');
  if (problems.length > 0) throw new McpWarmError('USAGE_INVALID', `bench pool: ${problems.join('; ')}`, { details: { problems } });
}

interface PublishedServer {
  /** The tag the hot tier keeps instances of. */
  hot: string;
  /** A second tag of the same image, not in the hot configuration: requests for it go to the warm tier. */
  warm: string;
  byDigest: string;
  digest: string;
  /** The config digest: the image's id in Docker. */
  imageId: string;
}

async function publishServer(server: ServerName, registry: string): Promise<PublishedServer> {
  const published = await buildAndPublish(SERVERS[server].spec, { tag: `${registry}/bench/${server}:1`, push: true });
  const ref = parseReference(published.reference);
  const client = new RegistryClient(ref);
  const manifest = await client.getManifest(published.digest);
  await client.putManifest('warm', manifest.bytes, manifest.mediaType);
  const imageId = (JSON.parse(manifest.bytes.toString('utf8')) as { config: { digest: string } }).config.digest;
  return {
    hot: published.reference,
    warm: formatReference({ registry: ref.registry, repository: ref.repository, tag: 'warm' }),
    byDigest: formatReference({ registry: ref.registry, repository: ref.repository, digest: published.digest }),
    digest: published.digest,
    imageId,
  };
}

interface DockerEngines {
  /** The engine in use on the machine. */
  shared: DockerColdStarts;
  /** An engine of the benchmark's own, its storage empty. */
  clean: DockerColdStarts;
}

/** The Docker engines, or why there are none (only outside CI: under CI a missing engine fails the run). */
async function openDocker(options: PoolBenchOptions): Promise<{ engines?: DockerEngines; version?: string; skipped?: string }> {
  try {
    const engine = await ensureDockerd({ stateDir: options.dockerdStateDir });
    if (engine.started) options.cleanups.push('the Docker engine started for the benchmark', () => stopDockerd(options.dockerdStateDir));
    const run = `pool-${randomBytes(6).toString('hex')}`;
    const shared = new DockerColdStarts(engine.socketPath, run);
    options.cleanups.push('the benchmark containers and images', () => shared.cleanUp());
    // Beside the machine's engine, on the same kind of storage as it (not the scratch directory, which may be tmpfs).
    options.progress('starting a second Docker engine with empty storage');
    const privateEngine = await startPrivateDockerd(join(options.dockerdStateDir, run));
    options.cleanups.push('the Docker engine with empty storage', () => privateEngine.stop());
    const clean = new DockerColdStarts(privateEngine.socketPath, run);
    options.cleanups.push('the clean engine\'s containers and images', () => clean.cleanUp());
    return { engines: { shared, clean }, version: engine.version };
  } catch (error) {
    const missing = isMcpWarmError(error) && (error.code === 'DOCKER_UNAVAILABLE' || error.code === 'TOOL_MISSING');
    if (!missing || process.env.CI === 'true') throw error;
    return { skipped: `${error.code}: ${error.message}` };
  }
}

/** A controller process; every new runner gets `prefetch` (and the hot images) before it counts as warm. */
async function startController(options: PoolBenchOptions, name: string, size: number, hot: Array<{ image: string; min: number }>, prefetch: string[] = []): Promise<ControllerProcess> {
  options.progress(`${name}: starting a controller with ${size} warm runners${hot.length > 0 ? ` and ${hot[0]!.min} hot` : ''}`);
  return startControllerProcess({ dir: join(options.workDir, name), size, hot, prefetch, cleanups: options.cleanups });
}

/** POST /activations, then DELETE it at once; `runnerCacheFilled` when the runner's cache had every layer. */
async function activateAndEnd(controller: ControllerProcess, image: string): Promise<Omit<SideSample, 'round'>> {
  const start = performance.now();
  const { status, json } = await controller.call('POST', '/activations', { image });
  const ms = performance.now() - start;
  if (status !== 201) throw errorFromAnswer(json.error ?? {}, status);
  const ended = await controller.call('DELETE', `/activations/${json.activationId}`);
  if (ended.status !== 200) throw errorFromAnswer(ended.json.error ?? {}, ended.status);
  return { ms, tier: json.tier, phases: json.phases, runnerCacheFilled: json.cache.layersMissed === 0 };
}

async function sideBySide(
  options: PoolBenchOptions,
  controller: ControllerProcess,
  image: PublishedServer,
  docker: DockerEngines | undefined,
): Promise<Pick<PoolBenchResult['sideBySide'], 'variants' | 'failures'>> {
  const coldStart = async (engine: DockerColdStarts): Promise<Omit<SideSample, 'round'>> => {
    const run = await engine.coldStart(image.byDigest, image.imageId);
    return { ms: run.totalMs, phases: run.phases, imageAbsentBefore: run.imageAbsentBefore, layersAlreadyPresent: run.layersAlreadyPresent };
  };
  const measure: Record<SideVariant, () => Promise<Omit<SideSample, 'round'>>> = {
    'docker-cold': () => coldStart(docker!.shared),
    'docker-cold-clean': () => coldStart(docker!.clean),
    warm: () => activateAndEnd(controller, image.warm),
    hot: async () => {
      const { runnerCacheFilled: _, ...sample } = await activateAndEnd(controller, image.hot);
      return sample;
    },
  };
  const variants: SideVariant[] = docker ? [...DOCKER_VARIANTS, 'warm', 'hot'] : ['warm', 'hot'];
  const samples: Record<SideVariant, SideSample[]> = { 'docker-cold': [], 'docker-cold-clean': [], warm: [], hot: [] };
  const failures: SideFailure[] = [];
  // Warm-up rounds (numbered 0 and below) are not counted; the pool is quiet before every measurement.
  for (let round = 1 - options.warmupRounds; round <= options.rounds; round += 1) {
    const line: string[] = [];
    for (const variant of shuffled(variants)) {
      await controller.settled();
      try {
        const sample = { round, ...(await measure[variant]()) };
        if (round > 0) samples[variant].push(sample);
        line.push(`${variant} ${sample.ms.toFixed(1)} ms`);
      } catch (error) {
        // A failed activation is a result to report, not the end of the run.
        if (!isMcpWarmError(error)) throw error;
        failures.push({ round, variant, code: error.code, message: error.message });
        line.push(`${variant} failed (${error.code})`);
      }
    }
    if (round > 0) options.progress(`side by side, round ${round}/${options.rounds}: ${line.join(', ')}`);
  }
  const figures = Object.fromEntries(
    variants.map((variant) => {
      const list = samples[variant];
      return [variant, { summary: summarize(list.map((s) => s.ms)), phaseMedians: phaseMedians(list), samples: list }];
    }),
  );
  return { variants: figures, failures };
}

async function residentSets(options: PoolBenchOptions): Promise<PoolBenchResult['rss']> {
  const controller = await startController(options, 'rss', options.rssRunners, []);
  try {
    const view = await controller.settled(300_000);
    // Past the start-up burst: what an idle controller of this pool holds.
    await sleep(2000);
    const controllerBytes = (await controller.rssBytes()) ?? Number.NaN;
    const agents = await controller.runnerAgentsRss();
    const runnerAgentsBytes = agents.reduce((sum, bytes) => sum + bytes, 0);
    return { runners: view.available, agentsMeasured: agents.length, controllerBytes, runnerAgentsBytes, perRunnerAgentBytes: runnerAgentsBytes / agents.length };
  } finally {
    await controller.stop();
  }
}

export async function runPoolBenchmark(options: PoolBenchOptions): Promise<PoolBenchResult> {
  checkPoolOptions(options);
  const { workDir, progress } = options;
  const startedAt = new Date().toISOString();
  await mkdir(workDir, { recursive: true });
  // Servers run as the image's user and must reach their rootfs below this directory.
  await chmod(workDir, 0o755);
  const registry = await startLocalRegistry({ dir: join(workDir, 'registry'), port: 0 });
  options.cleanups.push('the registry', () => registry.stop());
  progress(`building and pushing ${SERVERS[options.server].spec}`);
  const image = await publishServer(options.server, registry.address);
  const docker = await openDocker(options);
  if (docker.skipped) progress(`docker-cold skipped: ${docker.skipped}`);

  // One pool for both, its runners prefetched into as the pool makes them (the hot tag is, being
  // hot): the open loop first, then the side by side.
  const controller = await startController(options, 'pool', options.size, [{ image: image.hot, min: options.hot }], [image.warm]);
  const { maxSize } = await controller.settled();
  const figures = await runOpenLoop(controller, { ...options, image: image.hot });
  const { variants, failures } = await sideBySide(options, controller, image, docker.engines);
  await controller.stop();
  const rss = await residentSets(options);

  const claimMs = poolClaimMs([...(variants.warm?.samples ?? []), ...figures.outcomes]);
  const warm = variants.warm?.summary ?? summarize([]);
  const dockerCold = variants['docker-cold']?.summary;
  const dockerColdClean = variants['docker-cold-clean']?.summary;
  return {
    benchmark: 'pool',
    startedAt,
    machine: { ...(await machineFingerprint()), dockerEngine: docker.version ?? null },
    config: {
      server: options.server,
      image: { reference: image.hot, digest: image.digest },
      ratePerSecond: options.ratePerSecond,
      durationS: options.durationS,
      size: options.size,
      maxSize,
      holdMs: options.holdMs,
      hot: options.hot,
      rounds: options.rounds,
      warmupRounds: options.warmupRounds,
      rssRunners: options.rssRunners,
      seed: options.seed,
    },
    sideBySide: {
      variants,
      failures,
      ...(dockerCold ? { dockerColdOverWarmP50: dockerCold.p50 / warm.p50 } : {}),
      ...(dockerColdClean ? { dockerColdCleanOverWarmP50: dockerColdClean.p50 / warm.p50 } : {}),
      ...(docker.skipped ? { dockerSkipped: docker.skipped } : {}),
    },
    openLoop: figures,
    claimMs,
    rss,
    targets: [],
  };
}

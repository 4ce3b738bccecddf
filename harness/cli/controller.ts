import { join } from 'node:path';
import { hostname } from 'node:os';
import type { Argv, CommandModule } from 'yargs';
import { loadToken } from '../../runner/agent/access.js';
import { startController } from '../../runner/controller/controller.js';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import { McpWarmError } from '../../runner/errors.js';
import { parseHotSpec, type HotImageConfig } from '../../runner/controller/hot-tier.js';
import type { ServerDefinition } from '../../runner/controller/servers.js';
import { Pool } from '../../runner/controller/pool.js';
import { describePoolEvent } from '../../runner/controller/pool-events.js';
import { DEFAULT_ACTIVATE_GRACE_MS } from '../../runner/controller/activation-request.js';
import { DEFAULT_PREFETCH_TIMEOUT_MS } from '../../runner/controller/prefetch.js';
import { DEFAULT_MAX_COLD_RUNNERS } from '../../runner/controller/reconcile-plan.js';
import { runnerToken } from '../../runner/controller/runner-token.js';
import { parseInsecureRegistries } from '../../runner/oci/insecure-registries.js';
import { createSubstrate, SUBSTRATE_NAMES } from '../../runner/substrates/registry.js';
import { handler, say, type JsonFlag } from './output.js';
import { mcpwarmHome } from './paths.js';

interface ControllerArgs extends JsonFlag {
  substrate: string;
  size: number;
  maxSize?: number;
  port: number;
  host: string;
  tokenFile?: string;
  insecureNoAuth: boolean;
  allow: string[];
  runnerInsecureRegistry: string[];
  stateDir?: string;
  pool: string;
  maxWaitMs: number;
  maxQueue: number;
  coldFallback: boolean;
  maxColdRunners: number;
  leaseMs: number;
  activateGraceMs: number;
  maxAgeMs: number;
  runnerSandbox: string;
  runnerCacheSize?: string;
  autoscale: boolean;
  burstMargin: number;
  autoscaleHalfLifeMs: number;
  hot: string[];
  server: string[];
  prefetch: string[];
  prefetchTimeoutMs: number;
  config?: string;
  kubeconfig?: string;
  namespace?: string;
  podTemplate?: string;
  runnerImage?: string;
}

const CONFIG_SCHEMA = z.strictObject({
  servers: z.array(z.strictObject({ name: z.string(), image: z.string().min(1) })).optional(),
  hot: z.array(z.strictObject({ image: z.string().min(1), min: z.number().int().min(1), max: z.number().int().min(1) })).optional(),
  prefetch: z.array(z.string().min(1)).optional(),
});

/** Named servers, hot images and images to prefetch from the flags and the config file together. */
async function controllerConfig(argv: ControllerArgs): Promise<{ hot: HotImageConfig[]; servers: ServerDefinition[]; prefetch: string[] }> {
  const parsed = argv.config ? CONFIG_SCHEMA.safeParse(parse(await readFile(argv.config, 'utf8')) ?? {}) : undefined;
  if (parsed && !parsed.success) {
    throw new McpWarmError('USAGE_INVALID', `${argv.config}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ')}`);
  }
  const fromFile = parsed?.data;
  const servers = argv.server.map((spec) => {
    const at = spec.indexOf('=');
    if (at <= 0) throw new McpWarmError('USAGE_INVALID', `--server ${spec}: expected NAME=IMAGE`);
    return { name: spec.slice(0, at), image: spec.slice(at + 1) };
  });
  return {
    hot: [...argv.hot.map(parseHotSpec), ...(fromFile?.hot ?? [])],
    servers: [...servers, ...(fromFile?.servers ?? [])],
    prefetch: [...argv.prefetch, ...(fromFile?.prefetch ?? [])],
  };
}

/** The seed's environment variables, as defaults under the flags. */
function seedDefaults(env: NodeJS.ProcessEnv): { size: number; pool: string; cacheSize?: string } {
  const enabled = (env.WARM_POOL_ENABLED ?? 'true').toLowerCase() !== 'false';
  return {
    size: enabled ? Number(env.WARM_POOL_SIZE ?? 4) : 0,
    pool: env.WARM_POOL_NAMESPACE ?? 'default',
    ...(env.IMAGE_CACHE_SIZE ? { cacheSize: env.IMAGE_CACHE_SIZE } : {}),
  };
}

export const controllerCommand: CommandModule<object, ControllerArgs> = {
  command: 'controller',
  describe: 'Run the pool controller: keeps runners warm on a substrate and hands one out per activation',
  builder: (yargs: Argv) => {
    const seed = seedDefaults(process.env);
    return yargs
      .option('substrate', { choices: [...SUBSTRATE_NAMES], default: 'process', describe: 'Where runners live' })
      .option('size', { type: 'number', default: seed.size, describe: 'Warm runners to keep (WARM_POOL_SIZE; 0 when WARM_POOL_ENABLED=false)' })
      .option('max-size', { type: 'number', describe: 'Most runners at once, claimed included (default 2 x size, at least size + 1)' })
      .option('port', { type: 'number', default: 8090 })
      .option('host', { type: 'string', default: '127.0.0.1' })
      .option('token-file', { type: 'string', describe: 'Bearer token clients must send (else $MCPWARM_TOKEN)' })
      .option('insecure-no-auth', { type: 'boolean', default: false })
      .option('allow', { type: 'string', array: true, default: [] as string[], describe: 'Allowed images (globs or sha256 digests)' })
      .option('runner-insecure-registry', { type: 'string', array: true, default: [] as string[], describe: "Runners pull from this registry (HOST[:PORT]) over plain HTTP although it is not on loopback (the agents' --insecure-registry); repeatable" })
      .option('state-dir', { type: 'string', describe: 'Runner records and caches (default $MCPWARM_HOME/pool)' })
      .option('pool', { type: 'string', default: seed.pool, describe: 'Pool name (WARM_POOL_NAMESPACE)' })
      .option('max-wait-ms', { type: 'number', default: 2000, describe: 'Longest wait for a warm runner' })
      .option('max-queue', { type: 'number', default: 100, describe: 'Most activations waiting at once' })
      .option('cold-fallback', { type: 'boolean', default: true, describe: 'After the wait, make a runner for the activation instead of a 503' })
      .option('max-cold-runners', { type: 'number', default: DEFAULT_MAX_COLD_RUNNERS, describe: 'Cold-fallback runners being made at once, at most; past it, 503 with Retry-After' })
      .option('activate-grace-ms', {
        type: 'number',
        default: DEFAULT_ACTIVATE_GRACE_MS,
        describe: "A runner's agent that has not answered an activation this long past the request's readiness timeout is treated as lost",
      })
      .option('lease-ms', { type: 'number', default: 3_600_000, describe: 'An activation ends after this unless deleted first' })
      .option('max-age-ms', { type: 'number', default: 6 * 3_600_000, describe: 'Warm runners older than this are replaced' })
      .option('runner-sandbox', { type: 'string', default: 'auto' })
      .option('autoscale', { type: 'boolean', default: false, describe: 'Warm target follows arrival rate x refill time + burst margin, between --size and --max-size' })
      .option('hot', { type: 'string', array: true, default: [] as string[], describe: 'Keep IMAGE pre-activated: IMAGE=MIN[:MAX], repeatable' })
      .option('server', { type: 'string', array: true, default: [] as string[], describe: 'A named server for the lifecycle API: NAME=IMAGE, repeatable' })
      .option('prefetch', {
        type: 'string',
        array: true,
        default: [] as string[],
        describe: 'Pull IMAGE into every new runner before it counts as warm (hot and named server images always are), repeatable',
      })
      .option('prefetch-timeout-ms', { type: 'number', default: DEFAULT_PREFETCH_TIMEOUT_MS, describe: "Time a new runner's agent has to prefetch every image; past it the runner is warm without the rest" })
      .option('kubeconfig', { type: 'string', describe: 'kubernetes substrate: kubeconfig file (else KUBECONFIG, ~/.kube/config, in-cluster)' })
      .option('namespace', { type: 'string', describe: 'kubernetes substrate: namespace of the runner pods (else the context\'s)' })
      .option('pod-template', { type: 'string', describe: 'kubernetes substrate: YAML file with the runner Pod (else the built-in one)' })
      .option('runner-image', { type: 'string', describe: 'docker and kubernetes substrates: the runner image (docker: else built and loaded on first use; kubernetes: else the pod template\'s)' })
      .option('config', { type: 'string', describe: 'YAML with `servers: [{name, image}]`, `hot: [{image, min, max}]` and `prefetch: [IMAGE]`, added to the flags' })
      .option('burst-margin', { type: 'number', default: 1, describe: 'Extra warm runners when autoscaling' })
      .option('autoscale-half-life-ms', { type: 'number', default: 30_000, describe: 'Half-life of the arrival-rate average when autoscaling' })
      .option('runner-cache-size', { type: 'string', ...(seed.cacheSize ? { default: seed.cacheSize } : {}), describe: 'Each runner cache budget (IMAGE_CACHE_SIZE)' }) as unknown as Argv<ControllerArgs>;
  },
  handler: handler(async (argv: ControllerArgs) => {
    const stateDir = argv.stateDir ?? join(mcpwarmHome(), 'pool');
    const token = await loadToken(argv.tokenFile);
    const substrate = createSubstrate(argv.substrate, { stateDir, kubeconfig: argv.kubeconfig, namespace: argv.namespace, podTemplate: argv.podTemplate, runnerImage: argv.runnerImage });
    const maxSize = argv.maxSize ?? Math.max(argv.size * 2, argv.size + 1);
    if (!(argv.autoscaleHalfLifeMs > 0)) throw new McpWarmError('USAGE_INVALID', '--autoscale-half-life-ms must be a positive number of milliseconds');
    if (!Number.isInteger(argv.maxColdRunners) || argv.maxColdRunners < 0) throw new McpWarmError('USAGE_INVALID', '--max-cold-runners must be a whole number, 0 or more');
    if (!(argv.activateGraceMs >= 0)) throw new McpWarmError('USAGE_INVALID', '--activate-grace-ms must be 0 or more milliseconds');
    if (!(argv.prefetchTimeoutMs > 0)) throw new McpWarmError('USAGE_INVALID', '--prefetch-timeout-ms must be a positive number of milliseconds');
    const election = substrate.leaderElection?.({
      leaseName: `mcpwarm-${argv.pool}`,
      identity: process.env.POD_NAME ?? `${hostname()}-${process.pid}`,
      onChange: (leading) => {
        say(leading ? 'leader election: leading, this replica reconciles the pool' : 'leader election: following, this replica serves claims only');
        if (leading) void pool.reconcile();
      },
    });
    const pool = new Pool({
      substrate,
      template: {
        pool: argv.pool,
        token: await runnerToken(stateDir),
        sandbox: argv.runnerSandbox,
        ...(argv.runnerCacheSize ? { cacheBudget: argv.runnerCacheSize } : {}),
        allow: argv.allow,
        insecureRegistries: parseInsecureRegistries(argv.runnerInsecureRegistry, '--runner-insecure-registry'),
      },
      policy: {
        warmTarget: argv.size,
        maxSize,
        maxAgeMs: argv.maxAgeMs,
        backoffBaseMs: 1000,
        backoffMaxMs: 60_000,
      },
      maxWaitMs: argv.maxWaitMs,
      maxQueue: argv.maxQueue,
      coldFallback: argv.coldFallback,
      maxColdRunners: argv.maxColdRunners,
      reconcileIntervalMs: 1000,
      ...(argv.autoscale ? { autoscale: { min: argv.size, max: maxSize, burstMargin: argv.burstMargin, halfLifeSeconds: argv.autoscaleHalfLifeMs / 1000 } } : {}),
      ...(election ? { isLeader: () => election.isLeader() } : {}),
      onReconcile: (plan, target) => {
        if (plan.create > 0 || plan.delete.length > 0) {
          say(`reconcile: warm target ${target}, create ${plan.create}, delete ${plan.delete.map((d) => `${d.id} (${d.reason})`).join(', ') || 'none'}`);
        }
      },
    });
    pool.subscribe((event) => {
      const line = describePoolEvent(event);
      if (line !== undefined) say(line);
    });
    const controller = await startController(
      {
        host: argv.host,
        port: argv.port,
        pool,
        substrate,
        ...(token !== undefined ? { token } : {}),
        insecureNoAuth: argv.insecureNoAuth,
        allow: argv.allow,
        leaseMs: argv.leaseMs,
        activateGraceMs: argv.activateGraceMs,
        prefetchTimeoutMs: argv.prefetchTimeoutMs,
        ...(await controllerConfig(argv)),
      },
      await runnerToken(stateDir),
    );
    election?.start();
    say(`controller listening on ${controller.url} (substrate ${argv.substrate}, pool ${argv.pool}, ${argv.size} warm)`);
    await new Promise<void>((resolve) => {
      const shutdown = () =>
        void controller
          .close()
          .then(() => election?.stop())
          .then(() => substrate.close())
          .then(resolve);
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    });
  }),
};

/**
 * `driver: bench-pool`: one run of `bench pool`, the pool controller (process substrate) against
 * a Docker cold start: side-by-side rounds (docker-cold on the machine's engine and on one with
 * empty storage, warm, hot in random order), an open loop
 * of Poisson arrivals against the pool with its hot tier, and the RSS of a pool of warm runners.
 * Options are `bench pool`'s flags: rate, duration, size, holdMs, hot, rounds, warmupRounds,
 * runnerCountForRss, server, seed.
 */
import { z } from 'zod';
import { SERVER_NAMES } from '../../../benchmarks/activation-options.js';
import { SERVERS } from '../../../benchmarks/activation.js';
import { POOL_DEFAULTS, poolOptionProblems } from '../../../benchmarks/pool-options.js';
import { strictMapping } from '../../problems.js';
import { benchmarkOptions } from '../bench-options.js';
import type { DriverSpecDefinition } from '../spec-types.js';

const number = (what: string, fallback: number) => z.number({ error: `expected ${what}` }).default(fallback);

const schema = strictMapping({
  options: benchmarkOptions(
    {
      rate: number('arrivals per second', POOL_DEFAULTS.rate),
      duration: number('seconds of arrivals', POOL_DEFAULTS.duration),
      size: number('a pool size', POOL_DEFAULTS.size),
      holdMs: number('milliseconds each activation is held', POOL_DEFAULTS.holdMs),
      hot: number('a number of hot instances', POOL_DEFAULTS.hot),
      rounds: number('a number of side-by-side rounds', POOL_DEFAULTS.rounds),
      warmupRounds: number('a number of warm-up rounds', POOL_DEFAULTS.warmupRounds),
      runnerCountForRss: number('a number of runners', POOL_DEFAULTS.runnerCountForRss),
      server: z.enum(SERVER_NAMES, { error: `expected a server: ${SERVER_NAMES.join(', ')}` }).default(POOL_DEFAULTS.server),
      seed: number('an integer seed', POOL_DEFAULTS.seed),
    },
    poolOptionProblems,
  ),
});

export type BenchPoolSpec = z.infer<typeof schema>;

export const benchPoolSpec: DriverSpecDefinition<BenchPoolSpec> = {
  kind: 'bench-pool',
  schema,
  imagesUsed: () => [],
  traceFiles: () => [],
  services: ({ options }) => [
    { kind: 'registry', detail: "the benchmark's own local registry (docker-registry) on a free loopback port" },
    { kind: 'image', detail: `${options.server}: built from ${SERVERS[options.server].spec} and pushed (tagged for the hot and the warm tier)` },
    { kind: 'dockerd', detail: 'the Docker engine (the running one, else started as root; outside CI, none skips the Docker variants)' },
    { kind: 'dockerd', detail: 'a second Docker engine of its own, its storage empty' },
    { kind: 'controller', detail: `pool controller (its own process, process substrate): ${options.size} warm runners, ${options.hot} hot` },
    { kind: 'controller', detail: `pool controller with ${options.runnerCountForRss} warm runners, for the RSS, after the others stopped` },
  ],
  describeTrial: ({ options }) => [
    `open loop: Poisson arrivals at ${options.rate}/s for ${options.duration} s (seed ${options.seed}), each activation held ${options.holdMs} ms, charged from its planned time, tier recorded`,
    `side by side: ${options.warmupRounds} warm-up and ${options.rounds} measured rounds, each running in random order: docker-cold (image removed, docker run; on the machine's engine), docker-cold-clean (the same on the engine with empty storage), warm (runner with the image cached), hot`,
    `RSS of the controller and its runner agents with ${options.runnerCountForRss} warm runners`,
  ],
  wholeRun: {
    variants: () => [
      ...['docker-cold', 'docker-cold-clean', 'warm', 'hot'].map((v) => `side-by-side/${v}`),
      ...['hot', 'warm', 'cold', 'refill', 'runner-start'].map((v) => `open-loop/${v}`),
    ],
    subjects: () => ['warm-vs-docker-cold-clean', 'warm-vs-docker-cold', 'claim'],
  },
};

/**
 * `driver: bench-activation`: one run of `bench activation`, time to "MCP initialize answered"
 * four ways per server (bare spawn, agent with the image cached and not cached, the seed
 * pipeline), interleaved in random order every round. Options: `runs`, `sandbox`, `servers`.
 */
import { z } from 'zod';
import { ACTIVATION_DEFAULTS, activationOptionProblems, SERVER_NAMES } from '../../../benchmarks/activation-options.js';
import { SERVERS, type ServerName } from '../../../benchmarks/activation.js';
import { strictMapping } from '../../problems.js';
import { benchmarkOptions } from '../bench-options.js';
import type { DriverSpecDefinition } from '../spec-types.js';

const schema = strictMapping({
  options: benchmarkOptions(
    {
      runs: z.number({ error: 'expected a number of rounds' }).default(ACTIVATION_DEFAULTS.runs),
      sandbox: z.string({ error: 'expected a sandbox (auto picks the strongest available)' }).default(ACTIVATION_DEFAULTS.sandbox),
      servers: z.array(z.string(), { error: `expected a list of servers: ${SERVER_NAMES.join(', ')}` }).default(ACTIVATION_DEFAULTS.servers).transform((names) => names as ServerName[]),
    },
    activationOptionProblems,
  ),
});

export type BenchActivationSpec = z.infer<typeof schema>;

const VARIANTS = ['bare', 'warm', 'cold', 'seed'] as const;
/** Per server: the overhead of a cached activation over a bare spawn, and the seed pipeline's p50 over an uncached activation's. */
const DERIVED = ['overhead', 'cold-vs-seed'] as const;

export const benchActivationSpec: DriverSpecDefinition<BenchActivationSpec> = {
  kind: 'bench-activation',
  schema,
  imagesUsed: () => [],
  traceFiles: () => [],
  services: (spec) => [
    { kind: 'registry', detail: "the benchmark's own local registry (docker-registry) on a free loopback port" },
    { kind: 'agent', detail: `runner agent (its own process, sandbox ${spec.options.sandbox}) keeping the images cached` },
    { kind: 'agent', detail: `runner agent (its own process, sandbox ${spec.options.sandbox}) whose cache is pruned before each activation` },
    ...spec.options.servers.map((server) => ({ kind: 'image', detail: `${server}: built from ${SERVERS[server].spec} and pushed` })),
  ],
  describeTrial: (spec) => [
    `for each server (${spec.options.servers.join(', ')}): ${spec.options.runs} rounds, each running in random order, timed to initialize answered:`,
    'bare: the server spawned on the host',
    'warm: POST /activate on the agent with the image cached',
    'cold: POST /activate on the agent whose cache was just pruned',
    'seed: skopeo copy, tar -xf of every layer, chroot exec',
  ],
  wholeRun: {
    variants: (spec) => spec.options.servers.flatMap((server) => VARIANTS.map((variant) => `${server}/${variant}`)),
    subjects: (spec) => [...VARIANTS, ...DERIVED, 'idle-agent', ...spec.options.servers.flatMap((server) => DERIVED.map((derived) => `${server}/${derived}`))],
  },
};

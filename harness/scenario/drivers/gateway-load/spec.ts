/**
 * `driver: gateway-load`: tools/list through a gateway (an agent's instance endpoint, the
 * controller's relay, or the stdio proxy over `server.command`), by one of two clients:
 * - `client: sdk` (the default): the MCP SDK at rising open-loop rates, each held for `step`,
 *   until a step fails the `until` criteria; the result is the highest rate that met them (the
 *   sustainable rate);
 * - `client: autocannon`: raw HTTP throughput, closed loop: `connections` connections (each with
 *   `pipelining` requests outstanding) POSTing as fast as they are answered for
 *   `workload.duration`; the result is requests per second.
 */
import { z } from 'zod';
import { STRATEGY_NAMES } from '../../../../runner/proxy/strategy.js';
import { MCP_REVISIONS } from '../../../load/mcp-http-load.js';
import { strictMapping } from '../../problems.js';
import { thresholdSchema } from '../../thresholds.js';
import { durationMs, nameSchema, positiveInt, positiveNumber } from '../../units.js';
import type { DriverSpecDefinition } from '../spec-types.js';

export const GATEWAY_TARGETS = ['agent', 'controller', 'proxy'] as const;
export const GATEWAY_CLIENTS = ['sdk', 'autocannon'] as const;

/** autocannon's defaults here: 16 connections, one request outstanding on each, for 10 s. */
export const AUTOCANNON_DEFAULTS = { connections: 16, pipelining: 1, durationMs: 10_000 } as const;
/** Requests per second are sampled each second. */
const MIN_AUTOCANNON_DURATION_MS = 1000;

const schema = strictMapping({
  /** The image the agent and controller targets serve. */
  image: nameSchema.optional(),
  /** The stdio server the proxy runs for proxy targets, as argv (`node` is this Node; run in the scenario's directory). */
  server: strictMapping({ command: z.array(z.string().min(1), { error: 'expected the command as a list of arguments' }).min(1, 'expected a command') }).optional(),
  variants: z
    .array(
      strictMapping({
        name: nameSchema,
        target: z.enum(GATEWAY_TARGETS, { error: `expected a target: ${GATEWAY_TARGETS.join(', ')}` }),
        strategy: z.enum(STRATEGY_NAMES, { error: `expected a strategy: ${STRATEGY_NAMES.join(', ')}` }).optional(),
        /** p-rard's pool of backends. */
        backends: positiveInt(256, 'a number of backends').optional(),
        client: z.enum(GATEWAY_CLIENTS, { error: `expected a client: ${GATEWAY_CLIENTS.join(', ')}` }).default('sdk'),
        /** autocannon's connections, and requests outstanding on each. */
        connections: positiveInt(10_000, 'a number of connections').optional(),
        pipelining: positiveInt(64, 'a number of requests outstanding per connection').optional(),
        /** autocannon's MCP revision: a session opened first, or stateless requests. */
        revision: z.enum(MCP_REVISIONS, { error: `expected an MCP revision: ${MCP_REVISIONS.join(', ')}` }).optional(),
      }),
      { error: 'expected a list of variants' },
    )
    .min(1, 'expected at least one variant'),
  workload: strictMapping({
    // The SDK's ramp (required when a variant uses it).
    pattern: z.enum(['constant', 'poisson'], { error: 'expected pattern: constant or poisson' }).default('constant'),
    rates: z.array(positiveNumber('a rate per second'), { error: 'expected a list of rates per second' }).min(1, 'expected at least one rate').optional(),
    step: durationMs({ positive: true }).optional(),
    until: z.array(thresholdSchema, { error: 'expected a list of thresholds' }).min(1, 'expected at least one criterion such as "p99 < 500ms"').optional(),
    /** Not measured at the start of each step (sdk) or run (autocannon). */
    warmup: durationMs().default(0),
    /** How long autocannon runs in each trial, after the warm-up. */
    duration: durationMs({ positive: true }).default(AUTOCANNON_DEFAULTS.durationMs),
  }).prefault({}),
}).superRefine((spec, context) => {
  spec.variants.forEach((variant, i) => {
    if ((variant.target === 'proxy') !== (variant.strategy !== undefined)) {
      context.addIssue({ code: 'custom', path: ['variants', i, 'strategy'], message: variant.target === 'proxy' ? 'expected the proxy strategy' : 'expected only with target proxy' });
    }
    if (variant.backends !== undefined && variant.strategy !== 'p-rard') context.addIssue({ code: 'custom', path: ['variants', i, 'backends'], message: 'expected only with strategy p-rard' });
    for (const key of ['connections', 'pipelining', 'revision'] as const) {
      if (variant[key] !== undefined && variant.client !== 'autocannon') context.addIssue({ code: 'custom', path: ['variants', i, key], message: 'expected only with client autocannon' });
    }
  });
  if (spec.variants.some((v) => v.target === 'proxy') && spec.server === undefined) context.addIssue({ code: 'custom', path: ['server'], message: 'expected the stdio server command the proxy runs (server: {command: [...]})' });
  if (spec.variants.some((v) => v.target !== 'proxy') && spec.image === undefined) context.addIssue({ code: 'custom', path: ['image'], message: 'expected the image the agent and controller targets serve' });
  const { rates, step, until, warmup, duration } = spec.workload;
  if (spec.variants.some((v) => v.client === 'sdk')) {
    const ramp = { rates, step, until };
    for (const key of ['rates', 'step', 'until'] as const) {
      if (ramp[key] === undefined) context.addIssue({ code: 'custom', path: ['workload', key], message: 'is required: the sdk client runs a ramp of rates (rates, step, until)' });
    }
  }
  rates?.forEach((rate, i) => {
    if (i > 0 && rate <= rates[i - 1]!) context.addIssue({ code: 'custom', path: ['workload', 'rates', i], message: 'expected rates in rising order' });
  });
  if (step !== undefined && warmup >= step) context.addIssue({ code: 'custom', path: ['workload', 'warmup'], message: 'expected less than step' });
  if (duration < MIN_AUTOCANNON_DURATION_MS) context.addIssue({ code: 'custom', path: ['workload', 'duration'], message: 'expected at least 1s: autocannon samples requests per second each second' });
});

export type GatewayLoadSpec = z.infer<typeof schema>;

export const gatewayLoadSpec: DriverSpecDefinition<GatewayLoadSpec> = {
  kind: 'gateway-load',
  schema,
  imagesUsed: (spec) => (spec.image !== undefined ? [{ path: 'image', image: spec.image }] : []),
  traceFiles: () => [],
  services: (spec) => {
    const targets = new Set(spec.variants.map((v) => v.target));
    return [
      ...(targets.has('agent') ? [{ kind: 'agent', detail: 'runner agent serving one instance of the image' }] : []),
      ...(targets.has('controller') ? [{ kind: 'controller', detail: 'pool controller (1 warm runner) relaying one activation' }] : []),
      ...spec.variants.filter((v) => v.strategy).map((v) => ({ kind: 'proxy', detail: `stdio proxy for ${v.name}, strategy ${v.strategy}, over ${spec.server?.command.join(' ')}` })),
    ];
  },
  describeTrial: (spec) => {
    const { pattern, rates, step, until, warmup, duration } = spec.workload;
    const sdk = spec.variants.filter((v) => v.client === 'sdk');
    // autocannon variants alike but for their gateway share a line.
    const autocannon = new Map<string, string[]>();
    for (const v of spec.variants.filter((v) => v.client === 'autocannon')) {
      const how = `${v.connections ?? AUTOCANNON_DEFAULTS.connections} connections, ${v.pipelining ?? AUTOCANNON_DEFAULTS.pipelining} outstanding each, MCP ${v.revision ?? MCP_REVISIONS[0]}`;
      autocannon.set(how, [...(autocannon.get(how) ?? []), v.name]);
    }
    return [
      ...(sdk.length > 0 && rates && step !== undefined && until
        ? [
            `${sdk.map((v) => v.name).join(', ')}: tools/list with the MCP SDK, open loop ${pattern}, rates ${rates.join(', ')}/s, ${step / 1000} s each (first ${warmup / 1000} s not measured), latency from the planned send time`,
            `  stops at the first rate where not (${until.map((t) => t.text).join(' and ')}); reports the highest rate that met them`,
          ]
        : []),
      ...[...autocannon].map(([how, names]) => `${names.join(', ')}: tools/list with autocannon, closed loop, ${how}, ${duration / 1000} s after ${warmup / 1000} s not measured`),
      ...(autocannon.size > 0
        ? ['  reports requests/s (rps: mean of the per-second samples; rps_p50) and autocannon\'s latency_p50/latency_p99 (whole ms): throughput, not comparable with open-loop latencies']
        : []),
    ];
  },
};

/**
 * `driver: gateway-load`: tools/list through a gateway (an agent's instance endpoint, the
 * controller's relay, or the stdio proxy over `server.command`) with the MCP SDK as the client, at rising open-loop
 * rates, each held for `step`, until a step fails the `until` criteria; the result is the highest
 * rate that met them (the sustainable rate).
 */
import { z } from 'zod';
import { STRATEGY_NAMES } from '../../../../runner/proxy/strategy.js';
import { strictMapping } from '../../problems.js';
import { parseThreshold, type Threshold } from '../../thresholds.js';
import { durationMs, nameSchema, positiveInt, positiveNumber } from '../../units.js';
import type { DriverSpecDefinition } from '../spec-types.js';

export const GATEWAY_TARGETS = ['agent', 'controller', 'proxy'] as const;

const thresholdSchema = z.string({ error: 'expected a threshold such as "p99 < 500ms"' }).transform((text, context): Threshold => {
  const parsed = parseThreshold(text);
  if (typeof parsed === 'string') {
    context.addIssue({ code: 'custom', message: parsed });
    return z.NEVER;
  }
  return parsed;
});

const schema = strictMapping({
  image: nameSchema,
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
      }),
      { error: 'expected a list of variants' },
    )
    .min(1, 'expected at least one variant'),
  workload: strictMapping({
    pattern: z.enum(['constant', 'poisson'], { error: 'expected pattern: constant or poisson' }).default('constant'),
    rates: z.array(positiveNumber('a rate per second'), { error: 'expected a list of rates per second' }).min(1, 'expected at least one rate'),
    step: durationMs({ positive: true }),
    warmup: durationMs().default(0),
    until: z.array(thresholdSchema, { error: 'expected a list of thresholds' }).min(1, 'expected at least one criterion such as "p99 < 500ms"'),
  }),
}).superRefine((spec, context) => {
  spec.variants.forEach((variant, i) => {
    if ((variant.target === 'proxy') !== (variant.strategy !== undefined)) {
      context.addIssue({ code: 'custom', path: ['variants', i, 'strategy'], message: variant.target === 'proxy' ? 'expected the proxy strategy' : 'expected only with target proxy' });
    }
    if (variant.backends !== undefined && variant.strategy !== 'p-rard') context.addIssue({ code: 'custom', path: ['variants', i, 'backends'], message: 'expected only with strategy p-rard' });
  });
  if (spec.variants.some((v) => v.target === 'proxy') && spec.server === undefined) context.addIssue({ code: 'custom', path: ['server'], message: 'expected the stdio server command the proxy runs (server: {command: [...]})' });
  spec.workload.rates.forEach((rate, i) => {
    if (i > 0 && rate <= spec.workload.rates[i - 1]!) context.addIssue({ code: 'custom', path: ['workload', 'rates', i], message: 'expected rates in rising order' });
  });
  if (spec.workload.warmup >= spec.workload.step) context.addIssue({ code: 'custom', path: ['workload', 'warmup'], message: 'expected less than step' });
});

export type GatewayLoadSpec = z.infer<typeof schema>;

export const gatewayLoadSpec: DriverSpecDefinition<GatewayLoadSpec> = {
  kind: 'gateway-load',
  schema,
  imagesUsed: (spec) => [{ path: 'image', image: spec.image }],
  traceFiles: () => [],
  services: (spec) => {
    const targets = new Set(spec.variants.map((v) => v.target));
    return [
      ...(targets.has('agent') ? [{ kind: 'agent', detail: 'runner agent serving one instance of the image' }] : []),
      ...(targets.has('controller') ? [{ kind: 'controller', detail: 'pool controller (1 warm runner) relaying one activation' }] : []),
      ...spec.variants.filter((v) => v.strategy).map((v) => ({ kind: 'proxy', detail: `stdio proxy for ${v.name}, strategy ${v.strategy}, over ${spec.server?.command.join(' ')}` })),
    ];
  },
  describeTrial: (spec) => [
    `tools/list, open loop ${spec.workload.pattern}, rates ${spec.workload.rates.join(', ')}/s, ${spec.workload.step / 1000} s each (first ${spec.workload.warmup / 1000} s not measured)`,
    `stops at the first rate where not (${spec.workload.until.map((t) => t.text).join(' and ')}); reports the highest rate that met them`,
  ],
};

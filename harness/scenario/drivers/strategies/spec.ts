/**
 * `driver: strategies`: the stdio proxy's scaling strategies side by side on one stdio server
 * (a command the proxy runs, or an image whose backends are activations on a pool controller on
 * the scenario's substrate): `sessions` MCP clients (the SDK) each sending `tools/call` of `tool`
 * with `arguments` under the workload (closed loop: a stated concurrency; open: planned times).
 */
import { z } from 'zod';
import { STRATEGY_NAMES } from '../../../../runner/proxy/strategy.js';
import { strictMapping } from '../../problems.js';
import { nameSchema, positiveInt } from '../../units.js';
import { describeWorkload, traceFiles, workloadSchema } from '../../workload.js';
import type { DriverSpecDefinition } from '../spec-types.js';

const schema = strictMapping({
  /**
   * The stdio MCP server: `command`, argv the proxy runs (relative paths are resolved from the
   * repository), or `image`, one of the scenario's images, activated on the pool per backend.
   */
  server: strictMapping({
    command: z.array(z.string().min(1), { error: 'expected the command as a list of arguments' }).min(1, 'expected a command').optional(),
    image: nameSchema.optional(),
  }).refine((server) => (server.command === undefined) !== (server.image === undefined), 'expected either command or image'),
  variants: z
    .array(strictMapping({ name: nameSchema, strategy: z.enum(STRATEGY_NAMES, { error: `expected a strategy: ${STRATEGY_NAMES.join(', ')}` }) }), { error: 'expected a list of variants' })
    .min(1, 'expected at least one variant'),
  /** MCP client sessions the requests are spread over. */
  sessions: positiveInt(1000, 'a number of sessions').default(1),
  call: strictMapping({ tool: z.string().min(1), arguments: z.record(z.string(), z.unknown()).default({}) }),
  workload: workloadSchema,
});

export type StrategiesSpec = z.infer<typeof schema>;

export const strategiesSpec: DriverSpecDefinition<StrategiesSpec> = {
  kind: 'strategies',
  schema,
  imagesUsed: (spec) => (spec.server.image === undefined ? [] : [{ path: 'server.image', image: spec.server.image }]),
  traceFiles: (spec) => traceFiles(spec.workload),
  services: (spec) => [
    ...(spec.server.image === undefined ? [] : [{ kind: 'controller', detail: `pool controller on the scenario's substrate, activating ${spec.server.image} per backend` }]),
    ...spec.variants.map((v) => ({ kind: 'proxy', detail: `stdio proxy, strategy ${v.strategy}, over ${spec.server.image === undefined ? spec.server.command!.join(' ') : `activations of ${spec.server.image}`}` })),
  ],
  describeTrial: (spec) => [`${spec.sessions} session(s) calling ${spec.call.tool}; ${describeWorkload(spec.workload)}`],
};

/**
 * `driver: pool`: activations through a pool controller on the scenario's substrate, one pool per
 * variant (its size), offered by an open-loop workload (bursts, typically). Each activation is
 * timed from its planned time to the controller's answer; its tier (hot, warm, cold) is recorded.
 * Before a trial the pool is refilled to its size; after it, every activation is ended.
 */
import { z } from 'zod';
import { strictMapping } from '../../problems.js';
import { durationMs, nameSchema, positiveInt } from '../../units.js';
import { describeWorkload, traceFiles, workloadSchema } from '../../workload.js';
import type { DriverSpecDefinition } from '../spec-types.js';

const schema = strictMapping({
  image: nameSchema,
  pool: strictMapping({
    /** Longest wait for a warm runner before the cold fallback (or a 503). */
    maxWait: durationMs().default(2000),
    coldFallback: z.boolean().default(true),
    sandbox: z.string().min(1).default('auto'),
  }).default({ maxWait: 2000, coldFallback: true, sandbox: 'auto' }),
  variants: z
    .array(strictMapping({ name: nameSchema, size: positiveInt(64, 'a pool size'), maxSize: positiveInt(128, 'a maximum size').optional() }), { error: 'expected a list of variants' })
    .min(1, 'expected at least one variant'),
  workload: workloadSchema,
}).superRefine((spec, context) => {
  spec.variants.forEach((variant, i) => {
    if (variant.maxSize !== undefined && variant.maxSize < variant.size) context.addIssue({ code: 'custom', path: ['variants', i, 'maxSize'], message: `expected at least size (${variant.size})` });
  });
  if (spec.workload.closed !== undefined) context.addIssue({ code: 'custom', path: ['workload', 'closed'], message: 'expected an open workload: the pool is offered activations at planned times' });
});

export type PoolSpec = z.infer<typeof schema>;

export const poolSpec: DriverSpecDefinition<PoolSpec> = {
  kind: 'pool',
  schema,
  imagesUsed: (spec) => [{ path: 'image', image: spec.image }],
  traceFiles: (spec) => traceFiles(spec.workload),
  services: (spec) =>
    spec.variants.map((variant) => ({
      kind: 'controller',
      detail: `pool controller for ${variant.name}: ${variant.size} warm runner agents (max ${variant.maxSize ?? variant.size * 2}), wait ${spec.pool.maxWait} ms, cold fallback ${spec.pool.coldFallback ? 'on' : 'off'}, sandbox ${spec.pool.sandbox}`,
    })),
  describeTrial: (spec) => [`${describeWorkload(spec.workload)}; activations ended and the pool refilled between trials`],
};

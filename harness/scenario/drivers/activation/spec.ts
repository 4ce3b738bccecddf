/**
 * `driver: activation`: one activation per trial, timed to "MCP initialize answered", in one of
 * these modes:
 * - docker-cold: `docker run` with the image removed from Docker first (the usual cold start);
 * - agent-uncached: a running agent whose cache was pruned (pull, unpack, compose, start);
 * - agent-cached: a running agent with the image cached (resolve, compose, start);
 * - hot: a controller's hot tier (an instance activated ahead of the request);
 * - warm: a controller's warm tier (a ready, empty runner: pull, unpack, compose, start);
 * - seed: the warm-pool write-up's pipeline (skopeo copy, tar -xf, chroot exec).
 */
import { z } from 'zod';
import { strictMapping } from '../../problems.js';
import { nameSchema } from '../../units.js';
import type { DriverSpecDefinition, PlannedService } from '../spec-types.js';

export const ACTIVATION_MODES = ['docker-cold', 'agent-uncached', 'agent-cached', 'hot', 'warm', 'seed'] as const;
export type ActivationMode = (typeof ACTIVATION_MODES)[number];

const schema = strictMapping({
  variants: z
    .array(strictMapping({ name: nameSchema, mode: z.enum(ACTIVATION_MODES, { error: `expected a mode: ${ACTIVATION_MODES.join(', ')}` }), image: nameSchema }), {
      error: 'expected a list of variants',
    })
    .min(1, 'expected at least one variant'),
  /** The agents' sandbox (auto picks the strongest available). */
  sandbox: z.string().min(1).default('auto'),
});

export type ActivationSpec = z.infer<typeof schema>;

const SERVICES: Record<ActivationMode, PlannedService[]> = {
  'docker-cold': [{ kind: 'dockerd', detail: 'the Docker engine (the running one, else started as root)' }],
  'agent-uncached': [{ kind: 'agent', detail: 'runner agent whose cache is pruned before each activation' }],
  'agent-cached': [{ kind: 'agent', detail: 'runner agent with the images cached' }],
  hot: [{ kind: 'controller', detail: "pool controller on the variants' substrate with a hot instance per image and link" }],
  warm: [{ kind: 'controller', detail: "pool controller on the variants' substrate, activations from its warm tier" }],
  seed: [],
};

export const activationSpec: DriverSpecDefinition<ActivationSpec> = {
  kind: 'activation',
  schema,
  imagesUsed: (spec) => spec.variants.map((variant, i) => ({ path: `variants[${i}].image`, image: variant.image })),
  traceFiles: () => [],
  services: (spec) => {
    const modes = [...new Set(spec.variants.map((v) => v.mode))];
    return modes.flatMap((mode) => SERVICES[mode]).map((service) => (service.kind === 'agent' ? { ...service, detail: `${service.detail} (sandbox ${spec.sandbox})` } : service));
  },
  describeTrial: () => ['one activation, timed from the request to "initialize answered"; untimed set-up before (cache pruned, image removed, hot instance ready)'],
};

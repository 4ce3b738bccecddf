/**
 * `driver: bench-image`: one run of `bench image`, the image pipeline against the reference
 * pipeline (skopeo copy + tar -xf) and composition for a cached image, its variants interleaved
 * in random order every round. Options: `spec` (the image spec to build, relative to the
 * scenario) and `runs` (rounds).
 */
import { z } from 'zod';
import { imageOptionProblems } from '../../../benchmarks/image-options.js';
import { strictMapping } from '../../problems.js';
import { benchmarkOptions } from '../bench-options.js';
import type { DriverSpecDefinition } from '../spec-types.js';

const schema = strictMapping({
  options: benchmarkOptions(
    {
      spec: z.string({ error: 'expected an image spec file, relative to the scenario' }).min(1, 'expected an image spec file, relative to the scenario'),
      runs: z.number({ error: 'expected a number of rounds' }).default(10),
    },
    imageOptionProblems,
  ),
});

export type BenchImageSpec = z.infer<typeof schema>;

export const benchImageSpec: DriverSpecDefinition<BenchImageSpec> = {
  kind: 'bench-image',
  schema,
  imagesUsed: () => [],
  traceFiles: () => [],
  specFiles: (spec) => [{ path: 'options.spec', file: spec.options.spec }],
  services: (spec) => [
    { kind: 'registry', detail: "the benchmark's own local registry (docker-registry) on a free loopback port" },
    { kind: 'image', detail: `built from ${spec.options.spec} and pushed to it` },
  ],
  describeTrial: (spec) => [
    `${spec.options.runs} rounds, each running in random order:`,
    'cold: pull + unpack into an empty cache, then compose the rootfs',
    'seed: skopeo copy, then tar -xf of every layer (the reference pipeline)',
    'cached: rootfs ready for the cached image (reference resolved, snapshots composed)',
  ],
  wholeRun: {
    variants: () => ['cold', 'seed', 'cached'],
    subjects: () => ['cold-vs-seed', 'cached-compose'],
  },
};

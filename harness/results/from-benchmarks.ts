/** Results documents from what `bench image` and `bench activation` return. */
import type { ActivationPhases } from '../../runner/agent/instance.js';
import type { ActivationBenchResult } from '../benchmarks/activation.js';
import type { ImageBenchResult } from '../benchmarks/image-pipeline.js';
import { buildResults, type VariantInput } from './build.js';
import type { ResultsDocument } from './schema.js';

const ACTIVATION_LABELS = {
  bare: 'bare spawn on the host',
  warm: 'agent, image cached',
  cold: 'agent, image not cached',
  seed: 'seed: skopeo + tar + chroot',
} as const;

/** Each phase of the agent's activations (the total is the variant itself), in the order they happen. */
export function activationPhaseSamples(samples: readonly ActivationPhases[]): Record<string, number[]> {
  const phases: Record<string, number[]> = {};
  for (const sample of samples) {
    for (const [key, value] of Object.entries(sample)) {
      if (key === 'totalMs' || value === undefined) continue;
      (phases[key.replace(/Ms$/, '')] ??= []).push(value);
    }
  }
  return phases;
}

export function activationResults(result: ActivationBenchResult, options: Record<string, unknown>): ResultsDocument {
  const variants: VariantInput[] = result.servers.flatMap((server) =>
    (Object.keys(ACTIVATION_LABELS) as Array<keyof typeof ACTIVATION_LABELS>).map((variant) => ({
      variant: `${server.server}/${variant}`,
      label: `${server.server}: ${ACTIVATION_LABELS[variant]}`,
      samplesMs: server.samples[variant],
      ...(variant === 'warm' || variant === 'cold' ? { phases: activationPhaseSamples(server.phaseSamples[variant]) } : {}),
    })),
  );
  return buildResults({
    benchmark: 'activation',
    scenario: { options: { ...options, runs: result.runs, sandbox: result.sandbox, servers: result.servers.map((s) => s.server) } },
    startedAt: result.startedAt,
    machine: result.machine,
    variants,
    targets: result.targets,
    facts: {
      idleAgentRssBytes: result.idleAgentRssBytes,
      images: Object.fromEntries(result.servers.map((s) => [s.server, s.image])),
      overheadMs: Object.fromEntries(result.servers.map((s) => [s.server, s.overhead])),
      coldSpeedupOverSeed: Object.fromEntries(result.servers.map((s) => [s.server, s.coldSpeedupOverSeed])),
    },
  });
}

export function imageResults(result: ImageBenchResult, options: Record<string, unknown>): ResultsDocument {
  const { cold, seed, cached } = result.samples;
  return buildResults({
    benchmark: 'image',
    scenario: { options: { ...options, runs: cold.totalMs.length } },
    startedAt: result.startedAt,
    machine: result.machine,
    variants: [
      {
        variant: 'cold',
        label: `cold: pull + unpack + compose (${result.composeMode})`,
        samplesMs: cold.totalMs,
        phases: { resolve: cold.resolveMs, pull: cold.pullMs, 'unpack after last byte': cold.unpackMs, compose: cold.composeMs },
      },
      { variant: 'seed', label: 'seed: skopeo copy + tar -xf', samplesMs: seed.totalMs, phases: { 'skopeo copy': seed.copyMs, 'tar -xf': seed.extractMs } },
      {
        variant: 'cached',
        label: 'cached: resolve + compose',
        samplesMs: cached.rootfsReadyMs,
        phases: { resolve: cached.rootfsReadyMs.map((total, i) => Math.max(0, total - (cached.composeMs[i] ?? 0))), compose: cached.composeMs },
      },
    ],
    targets: result.targets,
    facts: { image: result.image, composeMode: result.composeMode, storage: result.storage, speedupOverSeed: result.speedupOverSeed },
  });
}

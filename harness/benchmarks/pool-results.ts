/** The results document (`results.json` of a run directory) of `bench pool`. */
import { buildResults, type VariantInput } from '../results/build.js';
import type { ResultsDocument, Series } from '../results/schema.js';
import type { ArrivalOutcome, Tier } from './pool-figures.js';
import type { PoolBenchResult, SideVariant } from './pool.js';

const SIDE_LABELS: Record<SideVariant, string> = {
  'docker-cold': "side by side: Docker cold start (pull, run, initialize), the machine's engine",
  'docker-cold-clean': 'side by side: Docker cold start (pull, run, initialize), an engine with empty storage',
  warm: 'side by side: warm runner, image cached',
  hot: 'side by side: hot instance',
};

/** A hot activation's other phases are those of the instance made ahead of it, off the clock. */
const HOT_PHASES = new Set(['queueMs', 'claimMs']);

/** Each phase's samples (the total is the variant itself), named without the `Ms`. */
function phaseSamples(samples: ReadonlyArray<{ phases?: Record<string, number> }>, hot: boolean): Record<string, number[]> {
  const phases: Record<string, number[]> = {};
  for (const sample of samples) {
    for (const [key, value] of Object.entries(sample.phases ?? {})) {
      if (key === 'totalMs' || (hot && !HOT_PHASES.has(key))) continue;
      (phases[key.replace(/Ms$/, '')] ??= []).push(value);
    }
  }
  return phases;
}

const served = (outcomes: readonly ArrivalOutcome[], tier: Tier) => outcomes.filter((o) => o.error === undefined && o.tier === tier);

/** Open-loop latency against the planned arrival time, a line per tier. */
function latencySeries(outcomes: readonly ArrivalOutcome[]): Series[] {
  const lines = (['hot', 'warm', 'cold'] as const)
    .map((tier) => ({ name: tier, points: served(outcomes, tier).map((o): [number, number] => [o.plannedMs / 1000, o.answeredMs - o.plannedMs]) }))
    .filter((line) => line.points.length > 0);
  if (lines.length === 0) return [];
  return [{ id: 'open-loop-latency', title: 'Open loop: activation latency by arrival time', x: { label: 'planned arrival', unit: 's' }, y: { label: 'latency', unit: 'ms' }, lines }];
}

export function poolResults(result: PoolBenchResult): ResultsDocument {
  const { sideBySide, openLoop } = result;
  const variants: VariantInput[] = [];
  for (const [variant, figures] of Object.entries(sideBySide.variants) as Array<[SideVariant, NonNullable<PoolBenchResult['sideBySide']['variants'][SideVariant]>]>) {
    if (figures.samples.length === 0) continue;
    variants.push({ variant: `side-by-side/${variant}`, label: SIDE_LABELS[variant], samplesMs: figures.samples.map((s) => s.ms), phases: phaseSamples(figures.samples, variant === 'hot') });
  }
  for (const tier of ['hot', 'warm', 'cold'] as const) {
    const outcomes = served(openLoop.outcomes, tier);
    if (outcomes.length === 0) continue;
    variants.push({
      variant: `open-loop/${tier}`,
      label: `open loop: ${tier} tier, from the planned arrival`,
      samplesMs: outcomes.map((o) => o.answeredMs - o.plannedMs),
      phases: phaseSamples(outcomes, tier === 'hot'),
    });
  }
  if (openLoop.refill.afterClaimSamplesMs.length > 0) variants.push({ variant: 'open-loop/refill', label: 'refill: claim to replacement warm', samplesMs: openLoop.refill.afterClaimSamplesMs });
  if (openLoop.refill.runnerStartSamplesMs.length > 0) variants.push({ variant: 'open-loop/runner-start', label: 'runner start: created to warm', samplesMs: openLoop.refill.runnerStartSamplesMs });
  return buildResults({
    benchmark: 'pool',
    scenario: { options: { ...result.config } },
    startedAt: result.startedAt,
    machine: result.machine,
    variants,
    series: latencySeries(openLoop.outcomes),
    targets: result.targets,
    facts: {
      dockerColdOverWarmP50: sideBySide.dockerColdOverWarmP50 ?? null,
      dockerColdCleanOverWarmP50: sideBySide.dockerColdCleanOverWarmP50 ?? null,
      dockerSkipped: sideBySide.dockerSkipped ?? null,
      dockerRounds: (['docker-cold', 'docker-cold-clean'] as const).flatMap((variant) =>
        (sideBySide.variants[variant]?.samples ?? []).map((s) => ({ variant, round: s.round, imageAbsentBefore: s.imageAbsentBefore, layersAlreadyPresent: s.layersAlreadyPresent })),
      ),
      sideBySideFailures: sideBySide.failures,
      openLoop: { arrivals: openLoop.arrivals, activated: openLoop.activated, errors: openLoop.errors, errorExamples: openLoop.errorExamples, endErrors: openLoop.endErrors, unreplaced: openLoop.refill.unreplaced },
      claimMs: result.claimMs,
      controllerPeakRssBytes: openLoop.controllerPeakRssBytes,
      rss: result.rss,
    },
  });
}

/**
 * Plans a scenario run, purely: the services to stand up, the variants (each variant of the
 * driver over each registry link and substrate), and the trials: warm-up rounds first, then
 * `repetitions` rounds, each running every variant once in an order drawn from the scenario's
 * seed (randomized interleaving keeps slow drifts of a shared machine out of the comparison).
 * `--quick` applies the scenario's `quick` overrides (at most 2 repetitions and no warm-up by default).
 * A whole-run driver's benchmark interleaves its variants itself: its plan has variants but no trials.
 */
import type { LinkSpec } from '../cluster/link-shaping.js';
import { seededRandom } from '../measure/prng.js';
import { shuffled } from '../measure/stats.js';
import { DRIVER_SPECS } from './drivers/specs.js';
import type { DriverSpecBase, PlannedService, VariantBase } from './drivers/spec-types.js';
import type { Scenario } from './schema.js';
import type { Threshold } from './thresholds.js';

export interface PlannedVariant {
  /** `name`, with `/link` when the scenario has several links and `/substrate` when several substrates. */
  id: string;
  /** The driver's variant entry. */
  variant: VariantBase;
  link: LinkSpec;
  substrate: string;
}

export interface PlannedTrial {
  index: number;
  /** 1-based; warm-up rounds come first and are not measured. */
  round: number;
  warmup: boolean;
  variantId: string;
}

export interface ScenarioPlan {
  scenario: string;
  description?: string;
  file: string;
  driver: string;
  /** One whole benchmark run (no trials: the benchmark interleaves its variants itself). */
  wholeRun: boolean;
  quick: boolean;
  seed: number;
  repetitions: number;
  warmupRounds: number;
  services: PlannedService[];
  variants: PlannedVariant[];
  trials: PlannedTrial[];
  /** What one trial does. */
  trialDescription: string[];
  thresholds: Threshold[];
  /** The driver's keys as they apply to this run (with quick.workload merged in and quick.variants chosen, for --quick). */
  spec: DriverSpecBase;
}

const QUICK_REPETITIONS = 2;

function commonServices(scenario: Scenario, links: readonly LinkSpec[]): PlannedService[] {
  if (scenario.images.length === 0) return [];
  return [
    { kind: 'registry', detail: 'local registry (docker-registry) on a free loopback port' },
    ...links.flatMap((link) =>
      link.kind === 'local'
        ? []
        : [{ kind: 'link', detail: `${link.name}: ${link.bandwidthBitsPerSecond / 1e6} Mbit/s, ${link.rttMs} ms round trip (delay proxy; rate by tc htb as root, else by the proxy)` }],
    ),
    ...scenario.images.map((image) => ({ kind: 'image', detail: 'spec' in image ? `${image.name}: built from ${image.spec} and pushed` : `${image.name}: ${image.ref}` })),
  ];
}

export function planScenario(scenario: Scenario, options: { quick: boolean }): ScenarioPlan {
  const quick = options.quick ? (scenario.quick ?? {}) : undefined;
  const spec = quick ? scenario.quickSpec : scenario.spec;
  const driver = DRIVER_SPECS[scenario.driver]!;
  const links = quick?.links ? scenario.links.filter((l) => quick.links!.includes(l.name)) : scenario.links;
  const declared = driver.wholeRun ? driver.wholeRun.variants(spec).map((name) => ({ name })) : (spec.variants ?? []);
  const chosen = quick?.variants ? declared.filter((v) => quick.variants!.includes(v.name)) : declared;
  const planSpec = { ...spec, ...(driver.wholeRun ? {} : { variants: chosen }) };
  const variants: PlannedVariant[] = chosen.flatMap((variant) =>
    links.flatMap((link) =>
      scenario.substrates.map((substrate) => ({
        id: [variant.name, ...(links.length > 1 ? [link.name] : []), ...(scenario.substrates.length > 1 ? [substrate] : [])].join('/'),
        variant,
        link,
        substrate,
      })),
    ),
  );
  const repetitions = driver.wholeRun ? 0 : quick ? (quick.repetitions ?? Math.min(scenario.repetitions, QUICK_REPETITIONS)) : scenario.repetitions;
  const warmupRounds = driver.wholeRun ? 0 : quick ? (quick.warmup ?? 0) : scenario.warmup;
  const random = seededRandom(scenario.seed);
  const trials: PlannedTrial[] = [];
  for (let round = 1; round <= warmupRounds + repetitions; round += 1) {
    for (const variant of shuffled(variants, random)) trials.push({ index: trials.length, round, warmup: round <= warmupRounds, variantId: variant.id });
  }
  return {
    scenario: scenario.name,
    ...(scenario.description !== undefined ? { description: scenario.description } : {}),
    file: scenario.file,
    driver: scenario.driver,
    wholeRun: driver.wholeRun !== undefined,
    quick: options.quick,
    seed: scenario.seed,
    repetitions,
    warmupRounds,
    services: [...commonServices(scenario, links), ...driver.services(planSpec)],
    variants,
    trials,
    trialDescription: driver.describeTrial(planSpec),
    thresholds: scenario.thresholds,
    spec: planSpec,
  };
}

/** The plan as `--dry-run` prints it. */
export function formatPlan(plan: ScenarioPlan): string[] {
  const head = [
    `scenario ${plan.scenario} (${plan.file})${plan.quick ? ', quick' : ''}: driver ${plan.driver}${plan.wholeRun ? ', one whole benchmark run' : `, seed ${plan.seed}`}`,
    ...(plan.description ? [`  ${plan.description.trim()}`] : []),
    'services, started in this order and stopped in reverse:',
    ...plan.services.map((s) => `  - ${s.kind}: ${s.detail}`),
  ];
  const thresholds = `thresholds: ${plan.thresholds.length === 0 ? 'none' : plan.thresholds.map((t) => t.text).join('; ')}`;
  if (plan.wholeRun) {
    return [
      ...head,
      'the benchmark, which interleaves its variants itself in random order:',
      ...plan.trialDescription.map((line) => `  ${line}`),
      `variants it reports (${plan.variants.length}): ${plan.variants.map((v) => v.id).join(', ')}`,
      thresholds,
    ];
  }
  const measured = plan.trials.filter((t) => !t.warmup).length;
  return [
    ...head,
    `variants (${plan.variants.length}):`,
    ...plan.variants.map((v) => `  - ${v.id}: ${JSON.stringify(v.variant)}${v.link.kind === 'shaped' ? ` over ${v.link.name}` : ''}`),
    'each trial:',
    ...plan.trialDescription.map((line) => `  ${line}`),
    `trials: ${plan.warmupRounds} warm-up round(s) and ${plan.repetitions} measured round(s), ${plan.trials.length} trials (${measured} measured), variants in seeded random order:`,
    ...groupByRound(plan.trials).map(([round, ids, warmup]) => `  round ${round}${warmup ? ' (warm-up)' : ''}: ${ids.join(', ')}`),
    thresholds,
  ];
}

function groupByRound(trials: readonly PlannedTrial[]): Array<[number, string[], boolean]> {
  const rounds = new Map<number, { ids: string[]; warmup: boolean }>();
  for (const trial of trials) {
    const round = rounds.get(trial.round) ?? { ids: [], warmup: trial.warmup };
    round.ids.push(trial.variantId);
    rounds.set(trial.round, round);
  }
  return [...rounds].map(([round, { ids, warmup }]) => [round, ids, warmup]);
}

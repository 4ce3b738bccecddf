/**
 * The scenario document (YAML under scenarios/, `*.scenario.yaml`):
 *
 *   name: cold-vs-warm                 # [a-z0-9-]
 *   description: ...
 *   driver: activation                 # activation | pool | gateway-load | strategies
 *   substrates: [process]              # where pools run; each one is a variant axis
 *   images:                            # built from specs (relative to the scenario) and pushed to the run's registry
 *     - { name: fixture, spec: images/fixture.image.yaml }
 *   registry:
 *     links:                           # each one is a variant axis: local, or shaped
 *       - local
 *       - { name: wan, bandwidth: 100mbit, rtt: 40ms }
 *   repetitions: 10                    # rounds; each runs every variant once, in a seeded random order
 *   warmup: 1                          # unmeasured trials per variant, first
 *   seed: 1
 *   thresholds: ["p99 < 500ms", "errors < 0.1%", "agent-cached/local: p50 < 150ms"]
 *   quick: { repetitions: 2, warmup: 0, variants: [...], links: [...], workload: {...} }   # --quick
 *   ...                                # the driver's own keys: variants, workload, pool, ...
 *
 * A whole-run driver (a benchmark that interleaves its variants itself) takes `options` instead
 * of the keys about trials, images and links, and its `quick` sets options: `quick: {options: {...}}`.
 *
 * Validation is pure and reports every problem at once: the common keys and the driver's keys
 * are checked in one pass, then the names they refer to (images, variants, links). Overrides (a
 * command's flags) are merged over the driver's `options` and `workload` before that, winning over
 * `quick` too.
 */
import { z } from 'zod';
import { SUBSTRATE_NAMES } from '../../runner/substrates/registry.js';
import type { LinkSpec } from '../cluster/link-shaping.js';
import { DRIVER_KINDS, DRIVER_SPECS } from './drivers/specs.js';
import type { DriverSpecBase, DriverSpecDefinition } from './drivers/spec-types.js';
import { problemsOf, strictMapping, type ScenarioProblem } from './problems.js';
import { thresholdSchema, type Threshold } from './thresholds.js';
import { bandwidthBitsPerSecond, durationMs, nameSchema, positiveInt } from './units.js';

const imageSchema = z.union(
  [
    strictMapping({ name: nameSchema, spec: z.string({ error: 'expected an image spec file' }).min(1) }),
    strictMapping({ name: nameSchema, ref: z.string({ error: 'expected an image reference' }).min(1) }),
  ],
  { error: 'expected {name, spec: FILE} (built and pushed to the run\'s registry) or {name, ref: REFERENCE}' },
);

const linkSchema = z.union(
  [
    z.literal('local'),
    strictMapping({ name: nameSchema, bandwidth: bandwidthBitsPerSecond, rtt: durationMs() }),
  ],
  { error: 'expected local or {name, bandwidth: 100mbit, rtt: 40ms}' },
);

const COMMON = {
  name: nameSchema,
  description: z.string().optional(),
  driver: z.enum(DRIVER_KINDS as [string, ...string[]], { error: `expected a driver: ${DRIVER_KINDS.join(', ')}` }),
  substrates: z.array(z.enum(SUBSTRATE_NAMES, { error: `expected a substrate: ${SUBSTRATE_NAMES.join(', ')}` })).min(1).default(['process']),
  images: z.array(imageSchema, { error: 'expected a list of images' }).default([]),
  registry: strictMapping({ links: z.array(linkSchema, { error: 'expected a list of links' }).min(1, 'expected at least one link') }).default({ links: ['local'] }),
  repetitions: positiveInt(100_000, 'a number of repetitions').default(5),
  warmup: z.number({ error: 'expected a number of warm-up trials per variant' }).int().min(0).max(1000).default(1),
  seed: z.number({ error: 'expected an integer seed' }).int().default(1),
  thresholds: z.array(thresholdSchema, { error: 'expected a list of thresholds' }).default([]),
  quick: strictMapping({
    repetitions: positiveInt(100_000, 'a number of repetitions').optional(),
    warmup: z.number().int().min(0).max(1000).optional(),
    variants: z.array(nameSchema).min(1).optional(),
    links: z.array(nameSchema).min(1).optional(),
    /** Merged over `workload` key by key. */
    workload: z.record(z.string(), z.unknown()).optional(),
    /** Merged over `options` (a whole-run driver's) key by key. */
    options: z.record(z.string(), z.unknown()).optional(),
  }).optional(),
};
const COMMON_KEYS = Object.keys(COMMON);
const commonSchema = z.object(COMMON);

/** Common keys about trials, images and links: a whole-run driver's benchmark does those itself. */
const TRIAL_KEYS = ['substrates', 'images', 'registry', 'repetitions', 'warmup', 'seed'];
const QUICK_TRIAL_KEYS = ['repetitions', 'warmup', 'variants', 'links'];

/** Driver keys that are mappings merged key by key: `quick` merges its own over them, and so do overrides. */
const LAYERED_KEYS = ['workload', 'options'] as const;

/** Values for the driver's layered keys (`options`, `workload`), such as a command's flags. */
export type ScenarioOverrides = Partial<Record<(typeof LAYERED_KEYS)[number], Record<string, unknown>>>;

function layered(base: Record<string, unknown>, over: Partial<Record<string, unknown>> | undefined): Record<string, unknown> {
  const merged = { ...base };
  for (const key of LAYERED_KEYS) {
    const value = over?.[key];
    if (typeof value === 'object' && value !== null) merged[key] = { ...(base[key] as object | undefined), ...value };
  }
  return merged;
}

export type ImageSource = { name: string; spec: string } | { name: string; ref: string };

export interface Scenario {
  /** The file it came from, as given. */
  file: string;
  name: string;
  description?: string;
  driver: string;
  substrates: string[];
  images: ImageSource[];
  links: LinkSpec[];
  repetitions: number;
  warmup: number;
  seed: number;
  thresholds: Threshold[];
  quick?: z.infer<typeof COMMON.quick>;
  /** The driver's keys, validated by its schema. */
  spec: DriverSpecBase;
  /** The same with quick.workload merged in. */
  quickSpec: DriverSpecBase;
}

/** What validation needs from the file system: files named by the scenario, relative to it. */
export interface ScenarioInputs {
  specFiles: Array<{ path: string; file: string }>;
  traceFiles: string[];
}

export interface ParsedScenario {
  problems: ScenarioProblem[];
  scenario?: Scenario;
  inputs: ScenarioInputs;
}

function linkSpec(link: z.infer<typeof linkSchema>): LinkSpec {
  return link === 'local' ? { name: 'local', kind: 'local' } : { name: link.name, kind: 'shaped', bandwidthBitsPerSecond: link.bandwidth, rttMs: link.rtt };
}

function duplicates(names: readonly string[]): Set<string> {
  return new Set(names.filter((name, i) => names.indexOf(name) !== i));
}

/** The common keys about trials, images and links, when the driver runs a whole benchmark. */
function trialKeyProblems(raw: Record<string, unknown>, driver: string): ScenarioProblem[] {
  const quick = typeof raw.quick === 'object' && raw.quick !== null ? (raw.quick as Record<string, unknown>) : {};
  const because = `driver ${driver} runs a whole benchmark, which sets up its own services and rounds (see its options)`;
  return [
    ...TRIAL_KEYS.filter((key) => key in raw).map((key) => ({ path: key, message: `expected no ${key}: ${because}` })),
    ...QUICK_TRIAL_KEYS.filter((key) => key in quick).map((key) => ({ path: `quick.${key}`, message: `expected no ${key}: ${because}; quick.options sets its options` })),
  ];
}

/** Checks a parsed YAML document, with overrides merged into the driver's keys; pure. */
export function parseScenario(document: unknown, file: string, overrides: ScenarioOverrides = {}): ParsedScenario {
  const inputs: ScenarioInputs = { specFiles: [], traceFiles: [] };
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    return { problems: [{ path: '(scenario)', message: 'expected a mapping of scenario keys' }], inputs };
  }
  const raw = document as Record<string, unknown>;
  const problems: ScenarioProblem[] = [];
  const common = commonSchema.safeParse(raw, { reportInput: true });
  if (!common.success) problems.push(...problemsOf(common.error));

  const driver: DriverSpecDefinition | undefined = typeof raw.driver === 'string' ? DRIVER_SPECS[raw.driver] : undefined;
  if (driver?.wholeRun) problems.push(...trialKeyProblems(raw, driver.kind));
  const written = Object.fromEntries(Object.entries(raw).filter(([key]) => !COMMON_KEYS.includes(key)));
  const own = layered(written, overrides);
  const spec = driver?.schema.safeParse(own, { reportInput: true });
  if (spec && !spec.success) {
    const commonKeys = driver!.wholeRun ? COMMON_KEYS.filter((key) => !TRIAL_KEYS.includes(key)) : COMMON_KEYS;
    const documentKeys = [...commonKeys, ...Object.keys(driver!.schema.shape)].join(', ');
    for (const problem of problemsOf(spec.error)) {
      // A key at the top that is neither common nor the driver's: name every key the document takes.
      const topLevel = !problem.path.includes('.') && !problem.path.includes('[');
      problems.push(topLevel && problem.message.startsWith('unknown key') ? { ...problem, message: `unknown key (expected one of: ${documentKeys})` } : problem);
    }
  }
  const quick = raw.quick as Partial<Record<string, unknown>> | undefined;
  let quickSpec = spec?.success ? spec.data : undefined;
  if (spec?.success && LAYERED_KEYS.some((key) => typeof quick?.[key] === 'object' && quick[key] !== null)) {
    const merged = driver!.schema.safeParse(layered(layered(written, quick), overrides), { reportInput: true });
    if (merged.success) quickSpec = merged.data;
    else problems.push(...problemsOf(merged.error).map((p) => ({ ...p, path: `quick.${p.path}` })));
  }
  if (!common.success || !spec?.success || quickSpec === undefined) return { problems, inputs };

  const c = common.data;
  const variants = (spec.data.variants ?? []).map((v) => v.name);
  const links = c.registry.links.map(linkSpec);
  const images = c.images.map((image) => image.name);
  for (const name of duplicates(variants)) problems.push({ path: 'variants', message: `expected unique names (${name} appears more than once)` });
  for (const name of duplicates(links.map((l) => l.name))) problems.push({ path: 'registry.links', message: `expected unique names (${name} appears more than once)` });
  for (const name of duplicates(images)) problems.push({ path: 'images', message: `expected unique names (${name} appears more than once)` });
  for (const used of driver!.imagesUsed(spec.data)) {
    if (!images.includes(used.image)) problems.push({ path: used.path, message: `expected an image listed under images (${images.join(', ') || 'none'})` });
  }
  const named = driver!.wholeRun ? [...driver!.wholeRun.variants(spec.data), ...driver!.wholeRun.subjects(spec.data)] : variants;
  const variantIds = driver!.wholeRun ? named : variants.flatMap((v) => [v, ...links.map((l) => `${v}/${l.name}`)]);
  c.thresholds.forEach((threshold, i) => {
    if (threshold.variant !== undefined && !variantIds.includes(threshold.variant)) problems.push({ path: `thresholds[${i}]`, message: `expected a variant of this scenario (${named.join(', ')})` });
  });
  c.quick?.variants?.forEach((name, i) => {
    if (!variants.includes(name)) problems.push({ path: `quick.variants[${i}]`, message: `expected a variant of this scenario (${variants.join(', ')})` });
  });
  c.quick?.links?.forEach((name, i) => {
    if (!links.some((l) => l.name === name)) problems.push({ path: `quick.links[${i}]`, message: `expected a link of this scenario (${links.map((l) => l.name).join(', ')})` });
  });
  const quickSpecFiles = (driver!.specFiles?.(quickSpec) ?? []).map((f) => ({ ...f, path: `quick.${f.path}` }));
  for (const specFile of [...(driver!.specFiles?.(spec.data) ?? []), ...quickSpecFiles]) {
    if (!inputs.specFiles.some((known) => known.file === specFile.file)) inputs.specFiles.push(specFile);
  }
  const shaped = links.some((l) => l.kind === 'shaped');
  c.images.forEach((image, i) => {
    if ('spec' in image) inputs.specFiles.push({ path: `images[${i}].spec`, file: image.spec });
    else if (shaped) problems.push({ path: `images[${i}].ref`, message: 'expected spec: a shaped registry link carries only images pushed to the run\'s own registry' });
  });
  inputs.traceFiles.push(...new Set([...driver!.traceFiles(spec.data), ...driver!.traceFiles(quickSpec)]));
  if (problems.length > 0) return { problems, inputs };
  return {
    problems,
    inputs,
    scenario: {
      file,
      name: c.name,
      ...(c.description !== undefined ? { description: c.description } : {}),
      driver: c.driver,
      substrates: c.substrates,
      images: c.images,
      links,
      repetitions: c.repetitions,
      warmup: c.warmup,
      seed: c.seed,
      thresholds: c.thresholds,
      ...(c.quick !== undefined ? { quick: c.quick } : {}),
      spec: spec.data,
      quickSpec,
    },
  };
}

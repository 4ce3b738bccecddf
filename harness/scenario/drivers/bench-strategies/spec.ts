/**
 * `driver: bench-strategies`: one run of `bench strategies`, the stdio proxy's strategies against
 * supergateway: the added latency of one call at a time (rounds interleaved in random order),
 * then open-loop rates rising to saturation per tool and gateway. Options are its flags
 * (`strategies`, `supergateway`, `tools`, `fastRates`, ... as lists or comma-separated), and
 * `preset: quick` for the smoke run's step lengths, ladders and rounds (options given win over it).
 */
import { z } from 'zod';
import { strategiesFlagProblems, strategiesSettings, type StrategiesFlags, type StrategiesSettings } from '../../../benchmarks/strategies-options.js';
import { CLIENT_KINDS, DIRECT, LATENCY_MODES } from '../../../benchmarks/strategies-latency.js';
import { TOOLS } from '../../../benchmarks/strategies-load.js';
import { TARGETS } from '../../../benchmarks/strategies-targets.js';
import { strictMapping } from '../../problems.js';
import { benchmarkOptions } from '../bench-options.js';
import type { DriverSpecDefinition } from '../spec-types.js';

/** A list as a flag gives it: comma-separated, `none` for an empty one. */
const list = (what: string, items: z.ZodType) =>
  z
    .union([z.string(), z.array(items)], { error: `expected a list of ${what}` })
    .optional()
    .transform((value) => (Array.isArray(value) ? (value.length === 0 ? 'none' : value.join(',')) : value));
const number = (what: string) => z.number({ error: `expected ${what}` }).optional();

const OPTIONS = {
  preset: z.enum(['full', 'quick'], { error: 'expected full or quick' }).optional(),
  strategies: list('proxy strategies', z.string()),
  supergateway: list('supergateway modes', z.string()),
  tools: list('tools', z.string()),
  backends: number("P-RARD's pool size"),
  sessions: number('a number of MCP sessions'),
  stepDuration: number('seconds per rate'),
  arrivals: z.string({ error: 'expected poisson or constant' }).optional(),
  fastRates: list('rates per second', z.number()),
  slowRates: list('rates per second', z.number()),
  refine: number('a number of bisection steps'),
  retries: number('a number of retries'),
  fastP99Ms: number('a p99 bound in ms'),
  slowP99Ms: number('a p99 bound in ms'),
  latencyRounds: number('a number of rounds'),
  seed: number('an integer seed'),
  maxInFlight: number('a number of requests'),
};

/** The benchmark's flags from the options. */
export function flagsOf(options: z.output<z.ZodObject<typeof OPTIONS>>): StrategiesFlags {
  const { preset, ...flags } = options;
  return { ...(Object.fromEntries(Object.entries(flags).filter(([, value]) => value !== undefined)) as StrategiesFlags), quick: preset === 'quick' };
}

const schema = strictMapping({ options: benchmarkOptions(OPTIONS, (options) => strategiesFlagProblems(flagsOf(options))) });

export type BenchStrategiesSpec = z.infer<typeof schema>;

const settingsOf = (spec: BenchStrategiesSpec): StrategiesSettings => strategiesSettings(flagsOf(spec.options));

export const benchStrategiesSpec: DriverSpecDefinition<BenchStrategiesSpec> = {
  kind: 'bench-strategies',
  schema,
  imagesUsed: () => [],
  traceFiles: () => [],
  services: (spec) =>
    settingsOf(spec).targets.map((target) => ({ kind: 'gateway', detail: `${TARGETS[target].label} (its own process) in front of the fixture server, started fresh for each phase and tool` })),
  describeTrial: (spec) => {
    const settings = settingsOf(spec);
    return [
      settings.latencyRounds > 0
        ? `added latency: ${settings.latencyRounds} rounds (after ${settings.latencyWarmupRounds} warm-up) of ${settings.latencyCallsPerTurn} ${TOOLS.fast.label} calls in a row, one at a time, directly over stdio and through each gateway, lean and SDK clients, in random order (the first call of a turn after idle, the rest back to back)`
        : 'added latency: skipped (no rounds)',
      ...settings.tools.map(
        (tool) =>
          `${TOOLS[tool].label}: ${settings.sessions} sessions per gateway, open loop (${settings.arrivals}) at ${settings.ladders[tool].join(', ')}/s, ${settings.stepDurationMs / 1000} s a step, until p99 > ${settings.p99BoundMs[tool]} ms (then ${settings.refineSteps} refining steps)`,
      ),
    ];
  },
  wholeRun: {
    variants: (spec) => {
      const settings = settingsOf(spec);
      const interleaved = settings.latencyRounds > 0 ? [DIRECT, ...settings.targets.filter((target) => TARGETS[target].interleaved)] : [];
      return [
        ...(interleaved.length > 1 ? LATENCY_MODES.flatMap((mode) => CLIENT_KINDS.flatMap((client) => interleaved.map((name) => `${mode}/${client}/${name}`))) : []),
        ...settings.tools.flatMap((tool) => settings.targets.map((target) => `${tool}/${target}`)),
      ];
    },
    subjects: (spec) => {
      const proxies = settingsOf(spec).targets.filter((target) => TARGETS[target].family === 'proxy');
      return [...['added', 'added-back-to-back'].flatMap((subject) => [subject, ...proxies.map((target) => `${subject}/${target}`)]), 'p-rard-vs-s-rard', 'proxy-vs-supergateway'];
    },
  },
};

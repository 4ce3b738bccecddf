/**
 * `bench strategies` settings from its flags: comma-separated lists checked against what exists,
 * the defaults of a full run, and `--quick` (a smoke run: two short steps per gateway and tool).
 * A flag given explicitly wins over both.
 */
import { McpWarmError } from '../../runner/errors.js';
import { STRATEGY_NAMES } from '../../runner/proxy/strategy.js';
import { TOOL_NAMES, type ToolName } from './strategies-load.js';
import { geometricLadder } from './strategies-saturation.js';
import type { TargetName } from './strategies-targets.js';
import { strategiesOptionProblems, type StrategiesBenchOptions } from './strategies.js';
import { optionProblemOf, problemsOfCheck, type OptionProblem } from './option-problems.js';

export const SUPERGATEWAY_MODES = ['stateful', 'stateless'] as const;

/** The flags as given; undefined when not given. */
export interface StrategiesFlags {
  strategies?: string;
  supergateway?: string;
  tools?: string;
  backends?: number;
  sessions?: number;
  /** Seconds. */
  stepDuration?: number;
  arrivals?: string;
  fastRates?: string;
  slowRates?: string;
  refine?: number;
  retries?: number;
  fastP99Ms?: number;
  slowP99Ms?: number;
  latencyRounds?: number;
  seed?: number;
  maxInFlight?: number;
  quick?: boolean;
}

export type StrategiesSettings = Omit<StrategiesBenchOptions, 'cleanups' | 'progress'>;

const FULL = {
  sessions: 8,
  stepDurationMs: 1500,
  minRequestsPerStep: 20,
  ladders: { fast: geometricLadder(50, 2, 3200), slow: geometricLadder(5, 2, 320) },
  refineSteps: 2,
  retries: 1,
  latencyRounds: 200,
  latencyWarmupRounds: 20,
  latencyCallsPerTurn: 4,
};

const QUICK: typeof FULL = {
  sessions: 4,
  stepDurationMs: 500,
  minRequestsPerStep: 5,
  ladders: { fast: [20, 40], slow: [5, 10] },
  refineSteps: 0,
  retries: 0,
  latencyRounds: 20,
  latencyWarmupRounds: 5,
  latencyCallsPerTurn: 4,
};

function list<T extends string>(flag: string, text: string, allowed: readonly T[], problems: string[], none = false): T[] {
  const items = text.split(',').map((item) => item.trim()).filter(Boolean);
  if (none && items.length === 1 && items[0] === 'none') return [];
  const unknown = items.filter((item) => !(allowed as readonly string[]).includes(item));
  if (unknown.length > 0) problems.push(`${flag}: expected some of ${allowed.join(', ')}${none ? ' (or none)' : ''}, not ${unknown.join(', ')}`);
  return [...new Set(items.filter((item): item is T => (allowed as readonly string[]).includes(item)))];
}

function rates(flag: string, text: string, problems: string[]): number[] {
  const values = text.split(',').map((item) => Number(item.trim()));
  if (values.some((value) => !(value > 0) || !Number.isFinite(value))) problems.push(`${flag}: expected positive numbers separated by commas, not ${text}`);
  return values;
}

/** The benchmark's settings; USAGE_INVALID lists every problem with the flags at once. */
export function strategiesSettings(flags: StrategiesFlags): StrategiesSettings {
  const problems: string[] = [];
  const preset = flags.quick ? QUICK : FULL;
  const strategies = list('--strategies', flags.strategies ?? STRATEGY_NAMES.join(','), STRATEGY_NAMES, problems, true);
  const modes = list('--supergateway', flags.supergateway ?? SUPERGATEWAY_MODES.join(','), SUPERGATEWAY_MODES, problems, true);
  const tools = list('--tools', flags.tools ?? TOOL_NAMES.join(','), TOOL_NAMES, problems);
  const arrivals = flags.arrivals ?? 'poisson';
  if (arrivals !== 'poisson' && arrivals !== 'constant') problems.push(`--arrivals: expected poisson or constant, not ${arrivals}`);
  const ladders: Record<ToolName, number[]> = {
    fast: flags.fastRates !== undefined ? rates('--fast-rates', flags.fastRates, problems) : preset.ladders.fast,
    slow: flags.slowRates !== undefined ? rates('--slow-rates', flags.slowRates, problems) : preset.ladders.slow,
  };
  if (problems.length > 0) throw new McpWarmError('USAGE_INVALID', problems.join('; '), { details: { problems } });
  return {
    targets: [...strategies, ...modes.map((mode): TargetName => `supergateway-${mode}`)],
    tools,
    backends: flags.backends ?? 4,
    sessions: flags.sessions ?? preset.sessions,
    stepDurationMs: flags.stepDuration !== undefined ? flags.stepDuration * 1000 : preset.stepDurationMs,
    arrivals: arrivals as StrategiesSettings['arrivals'],
    minRequestsPerStep: preset.minRequestsPerStep,
    ladders,
    refineSteps: flags.refine ?? preset.refineSteps,
    retries: flags.retries ?? preset.retries,
    p99BoundMs: { fast: flags.fastP99Ms ?? 100, slow: flags.slowP99Ms ?? 1000 },
    latencyRounds: flags.latencyRounds ?? preset.latencyRounds,
    latencyWarmupRounds: preset.latencyWarmupRounds,
    latencyCallsPerTurn: preset.latencyCallsPerTurn,
    seed: flags.seed ?? 1,
    maxInFlight: flags.maxInFlight ?? 512,
    startTimeoutMs: 60_000,
  };
}

/** Every problem with the flags and with the settings they make, each as a problem of its option. */
export function strategiesFlagProblems(flags: StrategiesFlags): OptionProblem[] {
  let settings: StrategiesSettings | undefined;
  const unparsed = problemsOfCheck(() => (settings = strategiesSettings(flags)));
  return settings === undefined ? unparsed : strategiesOptionProblems(settings).map(optionProblemOf);
}

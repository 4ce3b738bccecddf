/**
 * `bench strategies`: the stdio proxy's strategies side by side with supergateway, every gateway
 * its own process in front of the same fixture server.
 *
 * 1. Added latency: the fast tool, one request at a time, directly over stdio and through each
 *    gateway, interleaved round by round in random order, with lean clients (what the gateway
 *    adds) and with the SDK's (what an SDK user sees); the medians' difference with a paired
 *    bootstrap interval.
 * 2. Load: for each tool (an echo, and a tool that takes 100 ms) and each gateway, started fresh,
 *    a pool of MCP sessions sends open-loop load (Poisson arrivals by default) at rising rates until the gateway no
 *    longer sustains it (strategies-saturation.ts): throughput, p50/p99 from the planned send
 *    time, errors by kind, server processes and the resident memory of the gateway's process tree.
 * 3. Comparisons: P-RARD's sustained rate over S-RARD's on the 100 ms tool, and the best
 *    strategy's over supergateway's best mode's on the fast tool, at the same p99 bound (the
 *    scenario's thresholds judge them, and the added latency).
 *
 * Everything started registers its teardown on `cleanups`, which the caller runs.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CleanupStack } from '../../runner/cleanup-stack.js';
import { McpWarmError } from '../../runner/errors.js';
import { connectMcp, type McpSessionClient } from '../load/mcp-client.js';
import { machineFingerprint, type MachineFingerprint } from '../measure/fingerprint.js';
import { summarize, type Summary } from '../measure/stats.js';
import type { TargetLine } from '../report/console.js';
import { treeUsage } from './process-tree.js';
import { addedMedian } from './strategies-added-latency.js';
import { leanHttpClient, leanStdioClient, type ToolCaller } from './strategies-lean-clients.js';
import { CLIENT_KINDS, DIRECT, interleavedLatency, LATENCY_MODES, sdkStdioClient, type ClientKind, type LatencyMode } from './strategies-latency.js';
import { callTool, runStep, TOOLS, type ToolName } from './strategies-load.js';
import {
  DEFAULT_MAX_ERROR_RATE,
  DEFAULT_MIN_ACHIEVED_SHARE,
  judgeStep,
  nextRate,
  ratioBound,
  saturated,
  stepDurationMs,
  sustainableRate,
  worthRetrying,
  type RatioBound,
  type StepFigures,
  type StepVerdict,
  type TriedRate,
} from './strategies-saturation.js';
import { stepProgressLine } from './strategies-report.js';
import { fixtureServerPath, TARGETS, supergatewayVersion, type RunningTarget, type TargetName } from './strategies-targets.js';

export interface StrategiesBenchOptions {
  targets: TargetName[];
  tools: ToolName[];
  /** P-RARD's pool size. */
  backends: number;
  /** MCP sessions the load is spread over. */
  sessions: number;
  stepDurationMs: number;
  /** Poisson (independent clients) or constant gaps. */
  arrivals: 'poisson' | 'constant';
  /** Low rates get longer steps, to schedule at least this many requests. */
  minRequestsPerStep: number;
  /** Rising rates per tool (requests per second). */
  ladders: Record<ToolName, number[]>;
  refineSteps: number;
  /** Times a rate not sustained is tried again before it counts as not sustained (not when a tenth of its requests failed). */
  retries: number;
  /** The p99 a step may reach and still be sustained, per tool: the same for every gateway. */
  p99BoundMs: Record<ToolName, number>;
  /** Rounds of the added-latency phase (0: skip it). */
  latencyRounds: number;
  latencyWarmupRounds: number;
  /** Calls each client makes in a row per round: the first after idle, the others back to back. */
  latencyCallsPerTurn: number;
  seed: number;
  maxInFlight: number;
  startTimeoutMs: number;
  cleanups: CleanupStack;
  progress: (line: string) => void;
}

export interface LoadStep {
  rate: number;
  /** 1, or 2 and more when the rate was tried again after it was not sustained. */
  attempt: number;
  figures: StepFigures;
  verdict: StepVerdict;
  /** Peak server processes in the gateway's tree. */
  servers: number;
  /** Peak resident memory of the gateway's tree: the gateway, wrappers and servers. */
  rssBytes: number;
  /** Peak resident memory of the gateway process alone. */
  gatewayRssBytes: number;
  lateSends: number;
}

export interface SustainedFigures {
  rate: number;
  /** Answers per second at that rate. */
  throughput: number;
  p50Ms: number;
  p99Ms: number;
  servers: number;
  rssBytes: number;
  gatewayRssBytes: number;
  /** False when even the highest rate tried was sustained: the gateway may sustain more. */
  saturated: boolean;
}

export interface TargetLoad {
  tool: ToolName;
  target: TargetName;
  steps: LoadStep[];
  /** The highest rate sustained (null when none was). */
  sustained: SustainedFigures | null;
  /** Server processes and memory (the tree's, the gateway's) once the sessions were open, before any load. */
  idle: { servers: number; rssBytes: number; gatewayRssBytes: number };
}

export interface AddedLatency {
  target: TargetName;
  summaryMs: Summary;
  /** p50 through the gateway minus p50 direct, with its bootstrap interval. */
  addedP50Ms: number;
  low: number;
  high: number;
  confidence: number;
}

export interface StrategiesBenchResult {
  benchmark: 'strategies';
  startedAt: string;
  machine: MachineFingerprint;
  config: Omit<StrategiesBenchOptions, 'cleanups' | 'progress'> & {
    server: string[];
    tools: ToolName[];
    toolCalls: Record<ToolName, { name: string; arguments: Record<string, unknown> }>;
    criteria: { maxErrorRate: number; minAchievedShare: number };
    supergatewayVersion: string;
  };
  addedLatency: {
    tool: ToolName;
    rounds: number;
    callsPerTurn: number;
    /**
     * Per kind of client, `lean` (what the gateway adds; the targets) and `sdk` (what an SDK user
     * sees), and per mode: calls after idle and back to back (strategies-latency.ts).
     */
    clients: Array<{ client: ClientKind; mode: LatencyMode; directMs: Summary; via: AddedLatency[] }>;
    notSampled: TargetName[];
  } | null;
  load: TargetLoad[];
  comparisons: {
    /** P-RARD's sustained rate over S-RARD's on the slow tool. */
    pooledOverSerialSlow: number | null;
    /** The best proxy strategy's sustained rate over supergateway's best mode's on the fast tool. */
    proxyOverSupergatewayFast: { ratio: number; proxy: TargetName; supergateway: TargetName; bound: RatioBound } | null;
  };
  /** The scenario's thresholds judged on the run's figures: none from the run itself, the scenario engine adds them. */
  targets: TargetLine[];
}

/** Raw latencies behind the figures, for the results document (too many for the JSON on stdout). */
export interface StrategiesSamples {
  /** `${mode}/${client}/${name}` (`after-idle/lean/direct`) to its calls, in round order. */
  addedLatency: Map<string, number[]>;
  /** `${tool}/${target}` to the latencies of its highest sustained step. */
  sustained: Map<string, number[]>;
}

/** Every problem with the options, as `--flag: what is wrong`. */
export function strategiesOptionProblems(options: Omit<StrategiesBenchOptions, 'cleanups' | 'progress'>): string[] {
  const problems: string[] = [];
  const whole = (flag: string, value: number, min: number, max: number) => {
    if (!Number.isInteger(value) || value < min || value > max) problems.push(`${flag}: expected a whole number from ${min} to ${max}, not ${value}`);
  };
  const positive = (flag: string, value: number) => {
    if (!(value > 0) || !Number.isFinite(value)) problems.push(`${flag}: expected a positive number, not ${value}`);
  };
  if (options.targets.length === 0) problems.push('--strategies, --supergateway: nothing to measure');
  if (options.tools.length === 0) problems.push('--tools: expected fast, slow or both');
  whole('--backends', options.backends, 1, 256);
  whole('--sessions', options.sessions, 1, 1000);
  whole('--refine', options.refineSteps, 0, 10);
  whole('--retries', options.retries, 0, 10);
  whole('--latency-rounds', options.latencyRounds, 0, 1_000_000);
  whole('--max-in-flight', options.maxInFlight, 1, 100_000);
  positive('--step-duration', options.stepDurationMs);
  for (const tool of options.tools) {
    const ladder = options.ladders[tool];
    if (ladder.length === 0 || ladder.some((rate, i) => !(rate > 0) || !Number.isFinite(rate) || (i > 0 && rate <= ladder[i - 1]!))) {
      problems.push(`--${tool}-rates: expected rising positive rates, not ${ladder.join(',')}`);
    }
    positive(`--${tool}-p99-ms`, options.p99BoundMs[tool]);
  }
  return problems;
}

function checkOptions(options: StrategiesBenchOptions): void {
  const problems = strategiesOptionProblems(options);
  if (problems.length > 0) throw new McpWarmError('USAGE_INVALID', problems.join('; '), { details: { problems } });
}

interface Started {
  target: RunningTarget;
  marker: string;
}

/** Starts a target fresh in front of its own servers, stopped by the caller or at the latest by `cleanups`. */
async function startTarget(name: TargetName, options: StrategiesBenchOptions, server: string): Promise<Started> {
  const marker = `--bench-strategies-${randomBytes(6).toString('hex')}`;
  const target = await TARGETS[name].start({ server: [process.execPath, server, marker], marker, backends: options.backends, startTimeoutMs: options.startTimeoutMs });
  options.cleanups.push(`${TARGETS[name].label}`, () => target.stop());
  return { target, marker };
}

async function closeAll(sessions: readonly McpSessionClient[]): Promise<void> {
  await Promise.all(sessions.map((session) => session.close().catch(() => undefined)));
}

async function measureAddedLatency(options: StrategiesBenchOptions, server: string): Promise<{ result: StrategiesBenchResult['addedLatency']; samples: Map<string, number[]> }> {
  const sampled = options.targets.filter((name) => TARGETS[name].interleaved);
  const notSampled = options.targets.filter((name) => !TARGETS[name].interleaved);
  if (sampled.length === 0 || options.latencyRounds === 0) return { result: null, samples: new Map() };
  const started: Started[] = [];
  const clients = new Map<string, ToolCaller>();
  const serverArgv = [process.execPath, server];
  try {
    clients.set(`lean/${DIRECT}`, await leanStdioClient(serverArgv));
    clients.set(`sdk/${DIRECT}`, await sdkStdioClient(serverArgv));
    for (const name of sampled) {
      const one = await startTarget(name, options, server);
      started.push(one);
      clients.set(`lean/${name}`, await leanHttpClient(one.target.endpoint));
      const session = await connectMcp(one.target.endpoint);
      clients.set(`sdk/${name}`, { callTool: (tool) => callTool(session.client, tool), close: () => session.close() });
    }
    options.progress(
      `added latency: ${options.latencyRounds} rounds of ${TOOLS.fast.label}, ${options.latencyCallsPerTurn} calls in a row to the server directly and through ${sampled.join(', ')}, lean and SDK clients, in random order`,
    );
    const sampledByMode = await interleavedLatency({
      clients,
      tool: TOOLS.fast,
      rounds: options.latencyRounds,
      warmupRounds: options.latencyWarmupRounds,
      callsPerTurn: options.latencyCallsPerTurn,
      seed: options.seed,
      onRound: (done) => {
        if (done % Math.max(1, Math.round(options.latencyRounds / 4)) === 0) options.progress(`  ${done}/${options.latencyRounds} rounds`);
      },
    });
    const samples = new Map<string, number[]>();
    const entries: NonNullable<StrategiesBenchResult['addedLatency']>['clients'] = [];
    for (const client of CLIENT_KINDS) {
      for (const mode of LATENCY_MODES) {
        const of = (name: string): number[] => sampledByMode[mode].get(`${client}/${name}`)!;
        for (const name of [DIRECT, ...sampled]) samples.set(`${mode}/${client}/${name}`, of(name));
        const via = sampled.map((target): AddedLatency => {
          const interval = addedMedian(of(DIRECT), of(target), { seed: options.seed });
          return { target, summaryMs: summarize(of(target)), addedP50Ms: interval.differenceMs, low: interval.low, high: interval.high, confidence: interval.confidence };
        });
        entries.push({ client, mode, directMs: summarize(of(DIRECT)), via });
      }
    }
    return { result: { tool: 'fast', rounds: options.latencyRounds, callsPerTurn: options.latencyCallsPerTurn, clients: entries, notSampled }, samples };
  } finally {
    for (const client of clients.values()) await client.close().catch(() => undefined);
    for (const one of started) await one.target.stop();
  }
}

async function measureLoad(tool: ToolName, name: TargetName, options: StrategiesBenchOptions, server: string, sustainedSamples: Map<string, number[]>): Promise<TargetLoad> {
  const startedAt = performance.now();
  const { target, marker } = await startTarget(name, options, server);
  const sessions: McpSessionClient[] = [];
  try {
    for (let i = 0; i < options.sessions; i += 1) sessions.push(await connectMcp(target.endpoint));
    const clients = sessions.map((session) => session.client);
    // Warm-up: every session's connection and the gateway's code paths, off the clock.
    for (let round = 0; round < 2; round += 1) await Promise.all(clients.map((client) => callTool(client, TOOLS[tool])));
    const idleUsage = await treeUsage(target.pid, marker);
    const criteria = { maxErrorRate: DEFAULT_MAX_ERROR_RATE, minAchievedShare: DEFAULT_MIN_ACHIEVED_SHARE, p99BoundMs: options.p99BoundMs[tool] };
    const plan = { ladder: options.ladders[tool], refineSteps: options.refineSteps };
    const tried: TriedRate[] = [];
    const steps: LoadStep[] = [];
    const latencies = new Map<number, number[]>();
    for (let rate = nextRate(plan, tried); rate !== undefined; rate = nextRate(plan, tried)) {
      const durationMs = stepDurationMs(rate, options.stepDurationMs, options.minRequestsPerStep);
      // A rate not sustained is tried again: on a shared machine, a stall from elsewhere can sink one step.
      let sustained = false;
      let retry = true;
      for (let attempt = 1; attempt <= 1 + options.retries && !sustained && retry; attempt += 1) {
        const result = await runStep({
          clients,
          tool: TOOLS[tool],
          rate,
          arrivals: options.arrivals,
          durationMs,
          // The same schedule at the same rate for every gateway.
          seed: options.seed + Math.round(rate * 1000),
          drainMs: Math.max(1000, 2 * criteria.p99BoundMs),
          maxInFlight: options.maxInFlight,
          gatewayPid: target.pid,
          marker,
          sampleEveryMs: 500,
        });
        const step: LoadStep = {
          rate,
          attempt,
          figures: result.figures,
          verdict: judgeStep(result.figures, criteria),
          servers: result.servers,
          rssBytes: result.rssBytes,
          gatewayRssBytes: result.gatewayRssBytes,
          lateSends: result.lateSends,
        };
        steps.push(step);
        sustained = step.verdict.sustained;
        retry = worthRetrying(step.figures);
        if (sustained) latencies.set(rate, result.latenciesMs);
        options.progress(stepProgressLine(tool, name, step));
        // A gateway that fell behind gets a moment to finish what it had taken on.
        await sleep(sustained ? 200 : 1000);
      }
      tried.push({ rate, sustained });
    }
    const best = sustainableRate(tried);
    const bestStep = steps.find((step) => step.rate === best && step.verdict.sustained);
    options.progress(`  ${tool} ${name}: ${bestStep ? `sustained ${best}/s` : 'sustained none of the rates'} (${((performance.now() - startedAt) / 1000).toFixed(0)} s)`);
    if (bestStep) sustainedSamples.set(`${tool}/${name}`, latencies.get(best)!);
    return {
      tool,
      target: name,
      steps,
      idle: { servers: idleUsage.servers, rssBytes: idleUsage.rssBytes, gatewayRssBytes: idleUsage.rootRssBytes },
      sustained: bestStep
        ? {
            rate: best,
            throughput: bestStep.figures.achievedRate,
            p50Ms: bestStep.figures.latencyMs.p50,
            p99Ms: bestStep.figures.latencyMs.p99,
            servers: bestStep.servers,
            rssBytes: bestStep.rssBytes,
            gatewayRssBytes: bestStep.gatewayRssBytes,
            saturated: saturated(tried),
          }
        : null,
    };
  } finally {
    await closeAll(sessions);
    await target.stop();
  }
}

/**
 * The rate a gateway sustained (0: none): the comparisons use the rate offered, the same seeded
 * schedule for every gateway at a rate, rather than the answers counted, which carry the
 * schedule's own randomness.
 */
const sustainedRateOf = (load: readonly TargetLoad[], tool: ToolName, target: TargetName): number | undefined => {
  const found = load.find((entry) => entry.tool === tool && entry.target === target);
  return found === undefined ? undefined : (found.sustained?.rate ?? 0);
};

function bestOf(load: readonly TargetLoad[], tool: ToolName, family: 'proxy' | 'supergateway'): { target: TargetName; rate: number; saturated: boolean } | undefined {
  const entries = load
    .filter((entry) => entry.tool === tool && TARGETS[entry.target].family === family)
    .map((entry) => ({ target: entry.target, rate: entry.sustained?.rate ?? 0, saturated: entry.sustained?.saturated ?? true }));
  return entries.sort((a, b) => b.rate - a.rate)[0];
}

/** NaN when the denominator sustained nothing: the ratio is then unknown, not infinite. */
const ratio = (a: number, b: number): number => (b > 0 ? a / b : Number.NaN);

/** The comparisons the scenario's thresholds judge, from the sustained rates; null when the run did not measure both sides. */
function strategiesComparisons(load: readonly TargetLoad[]): StrategiesBenchResult['comparisons'] {
  const pooled = sustainedRateOf(load, 'slow', 'p-rard');
  const serial = sustainedRateOf(load, 'slow', 's-rard');
  const proxy = bestOf(load, 'fast', 'proxy');
  const supergateway = bestOf(load, 'fast', 'supergateway');
  return {
    pooledOverSerialSlow: pooled !== undefined && serial !== undefined ? ratio(pooled, serial) : null,
    proxyOverSupergatewayFast:
      proxy && supergateway
        ? { ratio: ratio(proxy.rate, supergateway.rate), proxy: proxy.target, supergateway: supergateway.target, bound: ratioBound(proxy.saturated, supergateway.saturated) }
        : null,
  };
}

export async function runStrategiesBenchmark(options: StrategiesBenchOptions): Promise<{ result: StrategiesBenchResult; samples: StrategiesSamples }> {
  checkOptions(options);
  const server = fixtureServerPath();
  const startedAt = new Date().toISOString();
  const machine = await machineFingerprint();
  const { cleanups: _cleanups, progress, ...settings } = options;
  const config: StrategiesBenchResult['config'] = {
    ...settings,
    server: [process.execPath, server],
    toolCalls: Object.fromEntries(options.tools.map((tool) => [tool, { name: TOOLS[tool].name, arguments: TOOLS[tool].arguments }])) as StrategiesBenchResult['config']['toolCalls'],
    criteria: { maxErrorRate: DEFAULT_MAX_ERROR_RATE, minAchievedShare: DEFAULT_MIN_ACHIEVED_SHARE },
    supergatewayVersion: options.targets.some((name) => TARGETS[name].family === 'supergateway') ? supergatewayVersion() : 'not run',
  };
  progress(`server: ${config.server.join(' ')}; gateways: ${options.targets.join(', ')}; ${options.sessions} sessions`);
  const added = await measureAddedLatency(options, server);
  const sustainedSamples = new Map<string, number[]>();
  const load: TargetLoad[] = [];
  for (const tool of options.tools) {
    progress(`load, ${TOOLS[tool].label}: rates ${options.ladders[tool].join(', ')}/s (then ${options.refineSteps} refining steps), p99 bound ${options.p99BoundMs[tool]} ms`);
    for (const name of options.targets) load.push(await measureLoad(tool, name, options, server, sustainedSamples));
  }
  return {
    result: { benchmark: 'strategies', startedAt, machine, addedLatency: added.result, load, config, comparisons: strategiesComparisons(load), targets: [] },
    samples: { addedLatency: added.samples, sustained: sustainedSamples },
  };
}

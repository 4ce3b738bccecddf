/**
 * Gate calibration: A/A pairs (the same agent program on both sides) give the false-alarm rate; pairs
 * whose candidate agent adds a delay to every activation give the detection rate.
 */
import { join } from 'node:path';
import type { CleanupStack } from '../../runner/cleanup-stack.js';
import { isMcpWarmError, McpWarmError } from '../../runner/errors.js';
import { machineFingerprint } from '../measure/fingerprint.js';
import { summarize } from '../measure/stats.js';
import type { TargetLine } from '../report/console.js';
import { DEFAULT_TOLERANCE, evaluateGate, type GateOptions } from './gate.js';
import { checkRuns, measurePair, pairResults, startRig, type AgentSide } from './paired-activation.js';

/** `20` (ms) or `20%` (of the A/A pairs' median activation time). */
export type InjectedDelay = { ms: number } | { fraction: number };

export function parseInjectedDelay(text: string): InjectedDelay {
  const match = /^(\d+(?:\.\d+)?)(%?)$/.exec(text.trim());
  if (!match || Number(match[1]) <= 0) throw new McpWarmError('USAGE_INVALID', `--inject-delay-ms ${text}: expected milliseconds (20) or a share of the median activation (20%)`);
  return match[2] === '%' ? { fraction: Number(match[1]) / 100 } : { ms: Number(match[1]) };
}

export interface CalibrationOptions {
  pairs: number;
  runs: number;
  workDir: string;
  spec: string;
  sandbox: string;
  gate: Pick<GateOptions, 'tolerance' | 'metrics' | 'p99MaxMs'>;
  injectedDelay?: InjectedDelay;
  cleanups: CleanupStack;
  progress: (line: string) => void;
}

export interface PairOutcomes {
  pairs: number;
  alarms: number;
  rate: number;
  /** Candidate over baseline p50 of each pair. */
  p50Ratios: number[];
}

export interface CalibrationResult {
  pairs: number;
  runs: number;
  tolerance: number;
  aa: PairOutcomes;
  injected?: PairOutcomes & { delayMs: number; medianActivationMs: number };
  targets: TargetLine[];
}

const FALSE_ALARM_TARGET = 0.05;
const DETECTION_TARGET = 0.95;

const PAIR_ATTEMPTS = 3;

/**
 * Calibration runs dozens of pairs, each with two agents of its own: a pair that fails to run (an
 * agent that does not come up on a loaded machine, a sandbox launch that fails) is run again rather
 * than the whole calibration lost. Bad input (exit 2) is not retried.
 */
async function measureWithRetries<T>(measure: () => Promise<T>, progress: (line: string) => void): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await measure();
    } catch (error) {
      if (attempt >= PAIR_ATTEMPTS || !(isMcpWarmError(error) && error.exitCode === 1)) throw error;
      progress(`  ${error.code}: ${error.message.split('\n')[0]}; running the pair again (attempt ${attempt + 1} of ${PAIR_ATTEMPTS})`);
    }
  }
}

export async function calibrate(options: CalibrationOptions): Promise<CalibrationResult> {
  if (!(Number.isInteger(options.pairs) && options.pairs >= 1)) throw new McpWarmError('USAGE_INVALID', `--pairs ${options.pairs}: expected a whole number >= 1`);
  checkRuns(options.runs);
  const machine = await machineFingerprint();
  const rig = await startRig({ workDir: options.workDir, spec: options.spec, cleanups: options.cleanups, progress: options.progress });
  try {
    /** The outcomes, and every baseline-side sample (to size a delay given as a share of the median). */
    const runPairs = async (label: string, sides: readonly [AgentSide, AgentSide]): Promise<[PairOutcomes, number[]]> => {
      const outcome: PairOutcomes = { pairs: options.pairs, alarms: 0, rate: 0, p50Ratios: [] };
      const baseSamples: number[] = [];
      for (let pair = 1; pair <= options.pairs; pair += 1) {
        const startedAt = new Date().toISOString();
        const samples = await measureWithRetries(() =>
          measurePair(rig, { workDir: join(options.workDir, `${label}-${pair}`), sandbox: options.sandbox, runs: options.runs, sides, cleanups: options.cleanups, progress: options.progress }),
          options.progress,
        );
        const [base, candidate] = pairResults(rig, samples, { sides, startedAt, machine, options: { runs: options.runs, sandbox: options.sandbox } });
        const report = evaluateGate(base, candidate, options.gate);
        const p50 = report.results.find((r) => r.metric === 'p50' && r.ratio !== undefined);
        if (report.regression) outcome.alarms += 1;
        if (p50?.ratio) outcome.p50Ratios.push(p50.ratio.ratio);
        baseSamples.push(...samples.samplesMs[0]);
        options.progress(`${label} pair ${pair}/${options.pairs}: p50 ratio ${p50?.ratio?.ratio.toFixed(3) ?? '-'}, ${report.regression ? 'ALARM' : 'no alarm'}`);
      }
      outcome.rate = outcome.alarms / options.pairs;
      return [outcome, baseSamples];
    };
    const plain = (name: string): AgentSide => ({ name });
    const [aa, baseSamples] = await runPairs('A/A', [plain('a'), plain('b')]);
    const tolerance = options.gate.tolerance ?? DEFAULT_TOLERANCE;
    const targets: TargetLine[] = [
      { name: `A/A false-alarm rate over ${options.pairs} pairs`, expected: `<= ${FALSE_ALARM_TARGET * 100}%`, measured: aa.rate, met: aa.rate <= FALSE_ALARM_TARGET },
    ];
    if (options.injectedDelay === undefined) return { pairs: options.pairs, runs: options.runs, tolerance, aa, targets };

    const medianActivationMs = summarize(baseSamples).p50;
    const delayMs = 'ms' in options.injectedDelay ? options.injectedDelay.ms : Math.round(options.injectedDelay.fraction * medianActivationMs);
    options.progress(`candidate agent adds ${delayMs} ms to every activation (A/A median ${medianActivationMs.toFixed(1)} ms)`);
    const [injected] = await runPairs('delayed', [plain('base'), { name: 'delayed', extraArgs: [`--inject-delay-ms=${delayMs}`] }]);
    targets.push({
      name: `detection rate of +${delayMs} ms over ${options.pairs} pairs`,
      expected: `>= ${DETECTION_TARGET * 100}%`,
      measured: injected.rate,
      met: injected.rate >= DETECTION_TARGET,
    });
    return { pairs: options.pairs, runs: options.runs, tolerance, aa, injected: { ...injected, delayMs, medianActivationMs }, targets };
  } finally {
    await rig.close();
  }
}

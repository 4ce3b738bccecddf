/**
 * Gate calibration: A/A pairs (the same agent program on both sides) give the false-alarm rate;
 * pairs whose candidate agent adds a delay to every activation give the detection rate. The two
 * kinds alternate, so both meet the same machine conditions.
 */
import { join } from 'node:path';
import type { InjectedDelay } from '../../runner/agent/activation.js';
import type { CleanupStack } from '../../runner/cleanup-stack.js';
import { isMcpWarmError, McpWarmError } from '../../runner/errors.js';
import { machineFingerprint } from '../measure/fingerprint.js';
import { summarize } from '../measure/stats.js';
import type { TargetLine } from '../report/console.js';
import { DEFAULT_TOLERANCE, evaluateGate, type GateOptions } from './gate.js';
import { checkRuns, measurePair, pairResults, startRig, type AgentSide, type PairedSamples } from './paired-activation.js';

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
  injected?: PairOutcomes & {
    /** As given: `20` (ms) or `20%`. */
    delay: string;
    /** What the delayed agents reported: the median injected delay and its median share of their activation time. */
    medianDelayMs: number;
    medianShareOfActivation: number;
  };
  targets: TargetLine[];
}

const FALSE_ALARM_TARGET = 0.05;
const DETECTION_TARGET = 0.95;
const PAIR_ATTEMPTS = 3;

export function formatInjectedDelay(delay: InjectedDelay): string {
  return 'ms' in delay ? `${delay.ms}` : `${delay.fraction * 100}%`;
}

/**
 * The fixed delay, in ms, a delayed pair's candidate adds to every activation. A share (`20%`) is
 * of the p50 the A/A pair before it measured end to end (both sides' samples): a fixed delay of
 * that size puts the candidate's p50 that share above the baseline's, which is the regression the
 * gate is to catch. (A share of each activation's own time in the agent would be a share of only
 * the part the agent times, and a smaller change of the p50 than the one named.)
 */
export function delayForPair(delay: InjectedDelay, aaSamplesMs: readonly number[]): number {
  if ('ms' in delay) return delay.ms;
  if (aaSamplesMs.length === 0) throw new RangeError('a share of the p50 needs A/A samples');
  return delay.fraction * summarize(aaSamplesMs).p50;
}

/**
 * Calibration runs dozens of pairs, each with two agents of its own: a pair that fails to run (an
 * agent that does not come up on a loaded machine, a sandbox launch that fails) is run again rather
 * than the whole calibration lost. Bad input (exit 2) is not retried.
 */
async function measureWithRetries(measure: () => Promise<PairedSamples>, progress: (line: string) => void): Promise<PairedSamples> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await measure();
    } catch (error) {
      if (attempt >= PAIR_ATTEMPTS || !(isMcpWarmError(error) && error.exitCode === 1)) throw error;
      progress(`  ${error.code}: ${error.message.split('\n')[0]}; running the pair again (attempt ${attempt + 1} of ${PAIR_ATTEMPTS})`);
    }
  }
}

const emptyOutcomes = (pairs: number): PairOutcomes => ({ pairs, alarms: 0, rate: 0, p50Ratios: [] });

export async function calibrate(options: CalibrationOptions): Promise<CalibrationResult> {
  if (!(Number.isInteger(options.pairs) && options.pairs >= 1)) throw new McpWarmError('USAGE_INVALID', `--pairs ${options.pairs}: expected a whole number >= 1`);
  checkRuns(options.runs);
  const machine = await machineFingerprint();
  const rig = await startRig({ workDir: options.workDir, spec: options.spec, cleanups: options.cleanups, progress: options.progress });
  try {
    const runPair = async (label: string, pair: number, sides: readonly [AgentSide, AgentSide], outcomes: PairOutcomes): Promise<PairedSamples> => {
      const startedAt = new Date().toISOString();
      const samples = await measureWithRetries(
        () => measurePair(rig, { workDir: join(options.workDir, `${label}-${pair}`), sandbox: options.sandbox, runs: options.runs, sides, cleanups: options.cleanups, progress: options.progress }),
        options.progress,
      );
      const [base, candidate] = pairResults(rig, samples, { sides, startedAt, machine, options: { runs: options.runs, sandbox: options.sandbox } });
      const report = evaluateGate(base, candidate, options.gate);
      const p50 = report.results.find((r) => r.metric === 'p50' && r.ratio !== undefined);
      if (report.regression) outcomes.alarms += 1;
      if (p50?.ratio) outcomes.p50Ratios.push(p50.ratio.ratio);
      options.progress(`${label} pair ${pair}/${options.pairs}: p50 ratio ${p50?.ratio?.ratio.toFixed(3) ?? '-'}, ${report.regression ? 'ALARM' : 'no alarm'}`);
      return samples;
    };

    const delay = options.injectedDelay ? formatInjectedDelay(options.injectedDelay) : undefined;
    const aa = emptyOutcomes(options.pairs);
    const delayed = emptyOutcomes(options.pairs);
    const injectedMs: number[] = [];
    const shares: number[] = [];
    for (let pair = 1; pair <= options.pairs; pair += 1) {
      const aaSamples = await runPair('A/A', pair, [{ name: 'a' }, { name: 'b' }], aa);
      if (options.injectedDelay === undefined) continue;
      const delayMs = delayForPair(options.injectedDelay, aaSamples.samplesMs.flat());
      const samples = await runPair('delayed', pair, [{ name: 'base' }, { name: 'delayed', extraArgs: [`--inject-delay-ms=${delayMs.toFixed(2)}`] }], delayed);
      for (const phases of samples.phases[1]) {
        injectedMs.push(phases.injectedDelayMs ?? 0);
        shares.push((phases.injectedDelayMs ?? 0) / (phases.totalMs - (phases.injectedDelayMs ?? 0)));
      }
    }
    aa.rate = aa.alarms / options.pairs;
    delayed.rate = delayed.alarms / options.pairs;
    const tolerance = options.gate.tolerance ?? DEFAULT_TOLERANCE;
    const targets: TargetLine[] = [
      { name: `A/A false-alarm rate over ${options.pairs} pairs`, expected: `<= ${FALSE_ALARM_TARGET * 100}%`, measured: aa.rate, met: aa.rate <= FALSE_ALARM_TARGET },
    ];
    if (delay === undefined) return { pairs: options.pairs, runs: options.runs, tolerance, aa, targets };
    targets.push({ name: `detection rate of a +${delay} delay over ${options.pairs} pairs`, expected: `>= ${DETECTION_TARGET * 100}%`, measured: delayed.rate, met: delayed.rate >= DETECTION_TARGET });
    return {
      pairs: options.pairs,
      runs: options.runs,
      tolerance,
      aa,
      injected: { ...delayed, delay, medianDelayMs: summarize(injectedMs).p50, medianShareOfActivation: summarize(shares).p50 },
      targets,
    };
  } finally {
    await rig.close();
  }
}

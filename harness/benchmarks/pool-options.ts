/**
 * `bench pool` options, named as its flags are (`--hold-ms` is `holdMs`): the defaults of a full
 * run, the benchmark's settings they stand for, and the benchmark's own checks of them.
 */
import type { ServerName } from './activation.js';
import { problemsOfCheck, type OptionProblem } from './option-problems.js';
import { checkPoolOptions, type PoolBenchOptions } from './pool.js';

export interface PoolOptions {
  /** Open loop: mean arrivals per second (Poisson). */
  rate: number;
  /** Open loop: seconds of arrivals. */
  duration: number;
  size: number;
  holdMs: number;
  hot: number;
  rounds: number;
  warmupRounds: number;
  runnerCountForRss: number;
  server: ServerName;
  seed: number;
}

export const POOL_DEFAULTS: PoolOptions = { rate: 2, duration: 60, size: 4, holdMs: 1000, hot: 1, rounds: 10, warmupRounds: 1, runnerCountForRss: 20, server: 'everything', seed: 1 };

export type PoolSettings = Omit<PoolBenchOptions, 'workDir' | 'dockerdStateDir' | 'cleanups' | 'progress'>;

export function poolSettings(options: PoolOptions): PoolSettings {
  return {
    server: options.server,
    ratePerSecond: options.rate,
    durationS: options.duration,
    size: options.size,
    holdMs: options.holdMs,
    hot: options.hot,
    rounds: options.rounds,
    warmupRounds: options.warmupRounds,
    rssRunners: options.runnerCountForRss,
    seed: options.seed,
  };
}

export function poolOptionProblems(options: PoolOptions): OptionProblem[] {
  return problemsOfCheck(() => checkPoolOptions(poolSettings(options)));
}

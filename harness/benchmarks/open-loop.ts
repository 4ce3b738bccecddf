/**
 * Open-loop load on a pool controller: activations arrive on a seeded Poisson schedule, each sent
 * at its planned time whatever happened to the earlier ones (no bound on concurrency), charged from
 * that planned time, held, then ended. Meanwhile the pool's runners are listed to measure refills.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { isMcpWarmError } from '../../runner/errors.js';
import { poissonArrivals } from '../measure/arrivals.js';
import { refillTimes, RunnerTimeline } from '../measure/refill.js';
import { summarize, type Summary } from '../measure/stats.js';
import type { ControllerProcess } from './controller-process.js';
import { openLoopFigures, type ArrivalOutcome, type OpenLoopFigures } from './pool-figures.js';

export interface OpenLoopOptions {
  image: string;
  ratePerSecond: number;
  durationS: number;
  seed: number;
  holdMs: number;
  progress: (line: string) => void;
}

export interface OpenLoopResult extends OpenLoopFigures {
  refill: {
    /** From a claim to the next runner becoming claimable (see harness/measure/refill.ts). */
    afterClaimMs: Summary;
    afterClaimSamplesMs: number[];
    unreplaced: number;
    /** From a runner's creation to it being claimable. */
    runnerStartMs: Summary;
    runnerStartSamplesMs: number[];
    /** The controller's own moving average of the start time, for comparison. */
    controllerEstimateMs: number;
  };
  controllerPeakRssBytes: number;
  outcomes: ArrivalOutcome[];
}

const codeOf = (error: Error): string => (isMcpWarmError(error) ? error.code : 'INTERNAL');

async function arrive(controller: ControllerProcess, image: string, startMs: number, plannedMs: number, holdMs: number): Promise<ArrivalOutcome> {
  // Timers may fire a little early: wait until the planned time has really come.
  while (performance.now() < startMs + plannedMs) await sleep(startMs + plannedMs - performance.now());
  const sentMs = performance.now() - startMs;
  const answer = await controller.call('POST', '/activations', { image }).catch((error: unknown) => error as Error);
  const answeredMs = performance.now() - startMs;
  if (answer instanceof Error) return { plannedMs, sentMs, answeredMs, error: codeOf(answer), errorMessage: answer.message };
  if (answer.status !== 201) {
    return { plannedMs, sentMs, answeredMs, error: String(answer.json.error?.code ?? `HTTP ${answer.status}`), errorMessage: String(answer.json.error?.message ?? '') };
  }
  await sleep(holdMs);
  const ended = await controller.call('DELETE', `/activations/${answer.json.activationId}`).catch((error: unknown) => error as Error);
  const endError = ended instanceof Error ? codeOf(ended) : ended.status !== 200 ? String(ended.json.error?.code ?? `HTTP ${ended.status}`) : undefined;
  return { plannedMs, sentMs, answeredMs, tier: answer.json.tier, phases: answer.json.phases, ...(endError !== undefined ? { endError } : {}) };
}

/** Lists the pool every 50 ms into the timeline, and reads the controller's RSS every 500 ms; stop() gives the peak RSS. */
function watchPool(controller: ControllerProcess, timeline: RunnerTimeline): { stop(): Promise<number> } {
  let watching = true;
  let peakRss = 0;
  const loop = (async () => {
    for (let listing = 0; watching; listing += 1) {
      const view = await controller.pool().catch(() => undefined);
      if (view) timeline.observe(view.runnerList, Date.now());
      if (listing % 10 === 0) peakRss = Math.max(peakRss, (await controller.rssBytes()) ?? 0);
      await sleep(50);
    }
  })();
  return {
    stop: async () => {
      watching = false;
      await loop;
      return peakRss;
    },
  };
}

/** Runs the load on a settled pool; the pool is left settled again (or after a minute, as it is). */
export async function runOpenLoop(controller: ControllerProcess, options: OpenLoopOptions): Promise<OpenLoopResult> {
  const schedule = poissonArrivals({ ratePerSecond: options.ratePerSecond, durationMs: options.durationS * 1000, seed: options.seed });
  options.progress(`open loop: ${schedule.length} arrivals over ${options.durationS} s (${options.ratePerSecond}/s), each held ${options.holdMs} ms`);
  const timeline = new RunnerTimeline();
  const watcher = watchPool(controller, timeline);
  const startMs = performance.now();
  let answered = 0;
  const ticker = setInterval(() => options.progress(`open loop: ${((performance.now() - startMs) / 1000).toFixed(0)} s, ${answered}/${schedule.length} answered`), 10_000);
  const outcomes = await Promise.all(
    schedule.map((plannedMs) =>
      arrive(controller, options.image, startMs, plannedMs, options.holdMs).finally(() => {
        answered += 1;
      }),
    ),
  ).finally(() => clearInterval(ticker));
  // Replacements for the last claims are still starting: watch until the pool is whole again.
  await controller.settled(60_000).catch(() => undefined);
  const controllerPeakRssBytes = await watcher.stop();
  const refill = refillTimes(timeline.claims(), timeline.readyTimes());
  const runnerStarts = timeline.startTimes();
  const { refillSeconds } = await controller.pool();
  return {
    ...openLoopFigures(outcomes),
    refill: {
      afterClaimMs: summarize(refill.refillMs),
      afterClaimSamplesMs: refill.refillMs,
      unreplaced: refill.unreplaced,
      runnerStartMs: summarize(runnerStarts),
      runnerStartSamplesMs: runnerStarts,
      controllerEstimateMs: refillSeconds * 1000,
    },
    controllerPeakRssBytes,
    outcomes,
  };
}

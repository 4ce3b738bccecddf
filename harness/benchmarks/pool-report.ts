/** What `bench pool` prints on stderr: side by side, the open loop by tier, claim and refill times, RSS, the targets. */
import { summaryHeader, summaryRow, targetLines } from '../report/console.js';
import { machineLine } from '../report/tables.js';
import type { PoolBenchResult, SideVariant } from './pool.js';

const MIB = 2 ** 20;

const LABELS: Record<SideVariant, string> = {
  'docker-cold': "docker cold start, machine's engine",
  'docker-cold-clean': 'docker cold start, empty engine',
  warm: 'warm runner, image cached',
  hot: 'hot instance',
};

function sideBySideLines(result: PoolBenchResult): string[] {
  const { sideBySide, config } = result;
  const lines = [summaryHeader(`side by side, ${config.rounds} rounds (ms)`)];
  for (const variant of ['docker-cold', 'docker-cold-clean', 'warm', 'hot'] as const) {
    const figures = sideBySide.variants[variant];
    if (!figures) continue;
    lines.push(summaryRow(LABELS[variant], figures.summary));
    // A hot activation's other phases are those of the instance made ahead of it, off the clock.
    const phases = Object.entries(figures.phaseMedians).filter(([name]) => variant !== 'hot' || ['queueMs', 'claimMs', 'totalMs'].includes(name));
    lines.push(`    phase medians: ${phases.map(([name, value]) => `${name.replace(/Ms$/, '')} ${value.toFixed(1)}`).join(', ')}`);
  }
  const ratios = { 'docker-cold': sideBySide.dockerColdOverWarmP50, 'docker-cold-clean': sideBySide.dockerColdCleanOverWarmP50 };
  for (const variant of ['docker-cold', 'docker-cold-clean'] as const) {
    const docker = sideBySide.variants[variant];
    if (!docker) continue;
    const absent = docker.samples.filter((sample) => sample.imageAbsentBefore).length;
    const shared = docker.samples.filter((sample) => (sample.layersAlreadyPresent ?? 0) > 0).length;
    lines.push(`  ${LABELS[variant]} / warm at p50: ${ratios[variant]!.toFixed(1)}x (image absent before ${absent} of ${docker.samples.length} rounds; some of its layers present before ${shared})`);
  }
  if (sideBySide.dockerSkipped) lines.push(`  docker cold start SKIPPED: ${sideBySide.dockerSkipped}`);
  for (const failure of sideBySide.failures) lines.push(`  FAILED ${failure.variant}, round ${failure.round}: ${failure.code}: ${failure.message.split('\n')[0]}`);
  const uncached = sideBySide.variants.warm?.samples.filter((sample) => !sample.runnerCacheFilled).length ?? 0;
  if (uncached > 0) lines.push(`  ${uncached} warm activations were served by a runner whose cache had not been filled`);
  return lines;
}

function openLoopLines(result: PoolBenchResult): string[] {
  const { openLoop, config } = result;
  const errors = Object.entries(openLoop.errors).map(([code, n]) => `${code} ${n}`).join(', ') || 'none';
  const lines = [
    `open loop: ${config.ratePerSecond}/s for ${config.durationS} s (seed ${config.seed}), each held ${config.holdMs} ms: ${openLoop.arrivals} arrivals, ${openLoop.activated} activated, errors: ${errors}`,
    ...Object.entries(openLoop.errorExamples).map(([code, message]) => `  ${code}, for example: ${message.split('\n')[0]}`),
    summaryHeader('from the planned arrival (ms)'),
    summaryRow('all activations', openLoop.endToEndMs),
  ];
  for (const tier of ['hot', 'warm', 'cold'] as const) {
    const figures = openLoop.byTier[tier];
    if (figures) lines.push(summaryRow(`${tier} tier`, figures.endToEndMs));
  }
  for (const tier of ['warm', 'cold'] as const) {
    const figures = openLoop.byTier[tier];
    if (figures) lines.push(summaryRow(`  queue wait, ${tier} tier`, figures.queueMs));
  }
  return [
    ...lines,
    summaryRow('claim (find + claim), both phases', result.claimMs),
    summaryRow('refill: claim to replacement warm', openLoop.refill.afterClaimMs),
    summaryRow('runner start: created to warm', openLoop.refill.runnerStartMs),
    summaryRow('load generator lateness', openLoop.sendLagMs),
    `  controller's own refill estimate ${openLoop.refill.controllerEstimateMs.toFixed(0)} ms; ${openLoop.refill.unreplaced} claims not replaced by the end; peak controller RSS ${(openLoop.controllerPeakRssBytes / MIB).toFixed(1)} MiB`,
  ];
}

export function poolReportLines(result: PoolBenchResult): string[] {
  const { config, rss, machine } = result;
  return [
    '',
    `${config.server} (${config.image.reference}), pool of ${config.size} (max ${config.maxSize}), ${config.hot} hot; Docker engine ${machine.dockerEngine ?? 'none'}`,
    `machine: ${machineLine(machine)}`,
    '',
    ...sideBySideLines(result),
    '',
    ...openLoopLines(result),
    '',
    `RSS with ${rss.runners} warm runners: controller ${(rss.controllerBytes / MIB).toFixed(1)} MiB; ${rss.agentsMeasured} runner agents ${(rss.runnerAgentsBytes / MIB).toFixed(0)} MiB in all (${(rss.perRunnerAgentBytes / MIB).toFixed(1)} MiB each)`,
    '',
    ...targetLines(result.targets),
  ];
}

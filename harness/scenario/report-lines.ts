/** A trial run's figures as text for stderr: p50/p90/p99 per variant, its metrics, kinds and failures, then the targets. */
import { summarize } from '../measure/stats.js';
import { summaryHeader, summaryRow, targetLines, type TargetLine } from '../report/console.js';
import type { AggregatedRun } from './aggregate.js';

export function trialReportLines(scenario: string, aggregated: AggregatedRun, targets: readonly TargetLine[]): string[] {
  const lines = ['', summaryHeader(`${scenario} (ms)`)];
  for (const variant of aggregated.variants) lines.push(summaryRow(variant.label ?? variant.variant, summarize(variant.samplesMs)));
  for (const [id, facts] of Object.entries(aggregated.facts)) {
    const extras = [
      ...Object.entries(facts.metrics).map(([name, value]) => `${name} ${value.toFixed(1)}`),
      ...Object.entries(facts.kinds).map(([kind, n]) => `${kind} ${n}`),
      ...Object.entries(facts.errors).map(([code, n]) => `${code} x${n}`),
    ];
    if (extras.length > 0) lines.push(`  ${id}: ${extras.join(', ')}`);
  }
  return targets.length > 0 ? [...lines, '', ...targetLines(targets)] : lines;
}

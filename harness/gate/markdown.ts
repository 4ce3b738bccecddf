/** The gate's verdict and a comparison of two runs, as Markdown (pull-request comments, terminals). */
import { markdownTable } from '../report/markdown.js';
import { formatMs, formatRatio } from '../report/tables.js';
import type { ComparedQuantile, Comparison } from './compare.js';
import { QUANTILES, type GateReport, type RunRef, type SideFigure } from './gate.js';
import { minSamplesForQuantileCi } from './quantile-ci.js';

const signedPercent = (ratio: number): string => `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)}%`;

function runLine(run: RunRef): string {
  return `run \`${run.runId}\` (${run.revision ? `revision ${run.revision.slice(0, 12)}, ` : ''}${run.startedAt})`;
}

function side(figure: SideFigure | undefined): string {
  if (figure === undefined) return '-';
  const ci = figure.ci ? ` [${formatMs(figure.ci.low)}, ${formatMs(figure.ci.high)}]` : '';
  return `${formatMs(figure.valueMs)}${ci} n=${figure.n}`;
}

export function renderGateMarkdown(report: GateReport): string {
  const regressions = report.results.filter((r) => r.verdict === 'regression').length;
  const heading = regressions > 0 ? `### mcpwarm gate: REGRESSION (${regressions} of ${report.results.length} metrics)` : `### mcpwarm gate: no regression (${report.results.length} metrics)`;
  const confidence = `${Math.round(report.confidence * 100)}%`;
  const table = markdownTable({
    header: ['metric', 'baseline (ms)', 'candidate (ms)', `change (${confidence} CI)`, 'verdict', 'why'],
    numeric: [false, true, true, false, false, false],
    rows: report.results.map((r) => [
      `${r.label} ${r.metric}`,
      side(r.baseline),
      side(r.candidate),
      r.ratio ? `${signedPercent(r.ratio.ratio)} (${signedPercent(r.ratio.low)} to ${signedPercent(r.ratio.high)})` : r.maxMs !== undefined ? `limit ${formatMs(r.maxMs)} ms` : '-',
      r.verdict === 'regression' ? '**REGRESSION**' : r.verdict,
      r.reason,
    ]),
  });
  return [
    heading,
    `Baseline ${runLine(report.baseline)}; candidate ${runLine(report.candidate)}.`,
    `Relative metrics: bootstrap ${confidence} interval of the log ratio of the quantile (${report.resamples} resamples); a regression is significant and beyond the tolerance of ±${(report.tolerance * 100).toFixed(0)}%. Quantiles are shown with their distribution-free ${confidence} interval where n allows. p99 is checked against absolute limits.`,
    table,
  ].join('\n\n') + '\n';
}

function quantileCells(q: ComparedQuantile): string[] {
  const interval = q.low !== undefined && q.high !== undefined ? ` [${formatRatio(q.low)}, ${formatRatio(q.high)}]` : '';
  return [formatMs(q.aMs), formatMs(q.bMs), `${formatRatio(q.ratio)}${interval}`];
}

export function renderComparisonMarkdown(comparison: Comparison): string {
  const confidence = `${Math.round(comparison.confidence * 100)}%`;
  const table = markdownTable({
    header: ['variant', 'n A/B', 'p50 A', 'p50 B', 'B/A', 'p90 A', 'p90 B', 'B/A', 'p99 A', 'p99 B', 'B/A'],
    numeric: [false, true, true, true, false, true, true, false, true, true, false],
    rows: comparison.variants.map((v) => [
      v.label,
      `${v.nA}/${v.nB}`,
      ...quantileCells(v.quantiles.p50),
      ...quantileCells(v.quantiles.p90),
      ...quantileCells(v.quantiles.p99),
    ]),
  });
  const only = [
    comparison.onlyInA.length > 0 ? `Only in A: ${comparison.onlyInA.join(', ')}.` : '',
    comparison.onlyInB.length > 0 ? `Only in B: ${comparison.onlyInB.join(', ')}.` : '',
  ].filter(Boolean);
  return [
    `### A: ${runLine(comparison.a)}\n### B: ${runLine(comparison.b)}`,
    `Times in ms. B/A is the ratio of the quantiles, with its bootstrap ${confidence} interval where both sides have the samples a distribution-free interval of that quantile needs (${(['p50', 'p90', 'p99'] as const)
      .map((name) => `${name}: ${minSamplesForQuantileCi(QUANTILES[name], comparison.confidence)}`)
      .join(', ')}).`,
    table,
    ...only,
  ].join('\n\n') + '\n';
}

/** What `bench strategies` prints (aligned tables on stderr) and the results document of its run. */
import { summaryHeader, summaryRow, targetLines } from '../report/console.js';
import { formatMs, machineLine, type Table } from '../report/tables.js';
import { buildResults, type VariantInput } from '../results/build.js';
import type { ResultsDocument, Series } from '../results/schema.js';
import { TOOLS, type ToolName } from './strategies-load.js';
import { DIRECT } from './strategies-latency.js';
import { TARGETS, type TargetName } from './strategies-targets.js';
import type { LoadStep, StrategiesBenchResult, StrategiesSamples, TargetLoad } from './strategies.js';

const MIB = 2 ** 20;

/** Columns padded to their widest cell, numbers right-aligned. */
export function alignedTable(table: Table): string[] {
  const widths = table.header.map((title, column) => Math.max(title.length, ...table.rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) => `  ${cells.map((cell, column) => (table.numeric[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  ')}`.trimEnd();
  return [line(table.header), ...table.rows.map(line)];
}

function errorsCell(errors: Record<string, number>): string {
  return Object.entries(errors).map(([kind, n]) => `${kind} x${n}`).join(', ') || '0';
}

/** One step as it ends, for the progress on stderr. */
export function stepProgressLine(tool: ToolName, name: TargetName, step: LoadStep): string {
  const { figures } = step;
  const verdict = step.verdict.sustained ? 'sustained' : `NOT sustained: ${step.verdict.reasons.join('; ')}`;
  return `  ${tool} ${name} at ${step.rate}/s${step.attempt > 1 ? ` (attempt ${step.attempt})` : ''}: ${figures.achievedRate.toFixed(1)} answers/s, p50 ${formatMs(figures.latencyMs.p50)} ms, p99 ${formatMs(figures.latencyMs.p99)} ms, errors ${errorsCell(figures.errors)}, ${step.servers} servers, ${(step.rssBytes / MIB).toFixed(0)} MiB: ${verdict}`;
}

function loadTable(entries: readonly TargetLoad[]): Table {
  const rows: string[][] = [];
  for (const entry of entries) {
    entry.steps.forEach((step, i) => {
      const f = step.figures;
      rows.push([
        i === 0 ? TARGETS[entry.target].label : '',
        step.attempt > 1 ? `${step.rate} again` : String(step.rate),
        f.achievedRate.toFixed(1),
        formatMs(f.latencyMs.p50),
        formatMs(f.latencyMs.p99),
        errorsCell(f.errors),
        String(step.servers),
        (step.rssBytes / MIB).toFixed(0),
        (step.gatewayRssBytes / MIB).toFixed(0),
        step.verdict.sustained ? 'yes' : `no: ${step.verdict.reasons.join('; ')}`,
      ]);
    });
  }
  return {
    header: ['gateway', 'offered/s', 'answers/s', 'p50 ms', 'p99 ms', 'errors', 'servers', 'RSS MiB', 'gateway MiB', 'sustained'],
    numeric: [false, true, true, true, true, false, true, true, true, false],
    rows,
  };
}

function sustainedTable(entries: readonly TargetLoad[]): Table {
  return {
    header: ['gateway', 'rate/s', 'answers/s', 'p50 ms', 'p99 ms', 'servers', 'RSS MiB', 'gateway MiB', 'idle RSS MiB'],
    numeric: [false, true, true, true, true, true, true, true, true],
    rows: entries.map((entry) => {
      const s = entry.sustained;
      const idle = (entry.idle.rssBytes / MIB).toFixed(0);
      if (!s) return [TARGETS[entry.target].label, 'none', '-', '-', '-', '-', '-', '-', idle];
      return [
        TARGETS[entry.target].label,
        `${s.saturated ? '' : '>= '}${s.rate}`,
        s.throughput.toFixed(1),
        formatMs(s.p50Ms),
        formatMs(s.p99Ms),
        String(s.servers),
        (s.rssBytes / MIB).toFixed(0),
        (s.gatewayRssBytes / MIB).toFixed(0),
        idle,
      ];
    }),
  };
}

export function strategiesReportLines(result: StrategiesBenchResult): string[] {
  const { config } = result;
  const lines = [
    '',
    `machine: ${machineLine(result.machine)}`,
    `server: ${config.server.join(' ')}; supergateway ${config.supergatewayVersion}; p-rard with ${config.backends} backends; ${config.sessions} MCP sessions (the SDK client) per gateway`,
  ];
  const added = result.addedLatency;
  if (added) {
    const label = { lean: 'lean clients', sdk: 'the MCP SDK client' } as const;
    const when = { 'after-idle': 'first call of a turn (after idle)', 'back-to-back': `calls 2 to ${added.callsPerTurn} of a turn (back to back)` } as const;
    for (const { client, mode, directMs, via } of added.clients) {
      lines.push('', summaryHeader(`${TOOLS[added.tool].label} one at a time, ${label[client]}, ${when[mode]} (ms)`), summaryRow('direct over stdio', directMs));
      for (const entry of via) lines.push(summaryRow(TARGETS[entry.target].label, entry.summaryMs));
      for (const entry of via) {
        lines.push(`  added at p50, ${TARGETS[entry.target].label}: ${entry.addedP50Ms.toFixed(3)} ms (${(entry.confidence * 100).toFixed(0)}% CI ${entry.low.toFixed(3)} to ${entry.high.toFixed(3)})`);
      }
    }
    if (added.notSampled.length > 0) lines.push(`  not sampled one at a time (a server started per request): ${added.notSampled.map((name) => TARGETS[name].label).join(', ')}`);
  }
  for (const tool of config.tools) {
    const entries = result.load.filter((entry) => entry.tool === tool);
    if (entries.length === 0) continue;
    lines.push('', `${TOOLS[tool].label}: open-loop load (${config.arrivals} arrivals), steps of ${(config.stepDurationMs / 1000).toFixed(1)} s; sustained = errors <= ${config.criteria.maxErrorRate * 100}%, p99 <= ${config.p99BoundMs[tool]} ms, answers >= ${config.criteria.minAchievedShare * 100}% of the rate`);
    lines.push(...alignedTable(loadTable(entries)), '', `  ${TOOLS[tool].label}: the highest rate sustained (RSS: the gateway's process tree, servers included; gateway: its own process)`, ...alignedTable(sustainedTable(entries)));
  }
  lines.push('', ...targetLines(result.targets));
  if (result.targets.some((target) => Number.isNaN(target.measured))) {
    lines.push('  (NaN: a gateway in the ratio sustained none of the rates tried; start its ladder lower with --fast-rates or --slow-rates)');
  }
  return lines;
}

function loadSeries(result: StrategiesBenchResult, tool: ToolName): Series[] {
  const entries = result.load.filter((entry) => entry.tool === tool);
  const line = (entry: TargetLoad, y: (step: TargetLoad['steps'][number]) => number) => ({
    name: TARGETS[entry.target].label,
    points: [...entry.steps].sort((a, b) => a.rate - b.rate).filter((step) => Number.isFinite(y(step))).map((step): [number, number] => [step.rate, y(step)]),
  });
  const usable = (lines: Array<{ name: string; points: Array<[number, number]> }>) => lines.filter((l) => l.points.length > 0);
  const x = { label: 'offered rate', unit: 'requests/s' };
  const series: Series[] = [];
  const throughput = usable(entries.map((entry) => line(entry, (step) => step.figures.achievedRate)));
  if (throughput.length > 0) series.push({ id: `${tool}-throughput`, title: `${TOOLS[tool].label}: answers per second against the rate offered`, x, y: { label: 'answers', unit: '/s' }, lines: throughput });
  const p99 = usable(entries.map((entry) => line(entry, (step) => step.figures.latencyMs.p99)));
  if (p99.length > 0) series.push({ id: `${tool}-p99`, title: `${TOOLS[tool].label}: p99 from the planned send time against the rate offered`, x, y: { label: 'p99', unit: 'ms' }, lines: p99 });
  return series;
}

/**
 * The run's results document: the added-latency samples, and per tool and gateway the latencies
 * of its highest sustained step; undefined when there is no sample at all to put in one.
 */
export function strategiesResults(result: StrategiesBenchResult, samples: StrategiesSamples): ResultsDocument | undefined {
  const variants: VariantInput[] = [];
  for (const [key, values] of samples.addedLatency) {
    const [mode, client, name] = key.split('/') as [string, string, string];
    const where = name === DIRECT ? 'direct over stdio' : TARGETS[name as TargetName].label;
    variants.push({ variant: key, label: `${TOOLS.fast.label} one at a time, ${mode}, ${client} client: ${where}`, samplesMs: values });
  }
  for (const entry of result.load) {
    const values = samples.sustained.get(`${entry.tool}/${entry.target}`);
    if (values && values.length > 0 && entry.sustained) {
      variants.push({ variant: `${entry.tool}/${entry.target}`, label: `${TOOLS[entry.tool].label}: ${TARGETS[entry.target].label} at ${entry.sustained.rate}/s`, samplesMs: values });
    }
  }
  if (variants.length === 0) return undefined;
  return buildResults({
    benchmark: 'strategies',
    scenario: { options: { ...result.config } },
    startedAt: result.startedAt,
    machine: result.machine,
    variants,
    series: result.config.tools.flatMap((tool) => loadSeries(result, tool)),
    targets: result.targets,
    facts: { addedLatency: result.addedLatency, load: result.load, comparisons: result.comparisons },
  });
}

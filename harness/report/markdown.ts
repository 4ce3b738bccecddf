/** A run's report in Markdown: summary tables fit for a pull-request comment. */
import type { ResultsDocument } from '../results/schema.js';
import { machineLine, phaseTable, revisionLine, scenarioLine, summaryTable, targetTable, type Table } from './tables.js';

const escapeCell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** Columns padded to one width, so the table reads as well in a terminal as rendered. */
export function markdownTable(table: Table): string {
  const rows = [table.header, ...table.rows].map((cells) => cells.map(escapeCell));
  const widths = table.header.map((_, i) => Math.max(3, ...rows.map((cells) => (cells[i] ?? '').length)));
  const pad = (text: string, i: number) => (table.numeric[i] ? text.padStart(widths[i]!) : text.padEnd(widths[i]!));
  const line = (cells: string[]) => `| ${cells.map(pad).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (table.numeric[i] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(rows[0]!), rule, ...rows.slice(1).map(line)].join('\n');
}

/** `chartFiles` are listed by name: they sit next to the report in the run directory. */
export function renderMarkdown(document: ResultsDocument, chartFiles: readonly string[] = []): string {
  const sections = [
    `## mcpwarm bench ${document.benchmark}: run ${document.runId}`,
    [
      `- scenario: ${scenarioLine(document)}`,
      `- ${revisionLine(document)}; ${document.startedAt} to ${document.finishedAt}`,
      `- machine: ${machineLine(document.machine)}`,
    ].join('\n'),
    markdownTable(summaryTable(document)),
  ];
  const phases = phaseTable(document);
  if (phases) sections.push(`### Phases\n\n${markdownTable(phases)}`);
  const targets = targetTable(document);
  if (targets) {
    const missed = document.targets.filter((t) => !t.met).length;
    sections.push(`### Targets: ${missed === 0 ? 'all met' : `${missed} missed`}\n\n${markdownTable(targets)}`);
  }
  if (chartFiles.length > 0) sections.push(`Charts in the run directory: ${chartFiles.map((f) => `\`${f}\``).join(', ')}; all of them in \`report.html\`.`);
  return `${sections.join('\n\n')}\n`;
}

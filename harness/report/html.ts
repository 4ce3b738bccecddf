/** A run's report as one self-contained HTML page: inline styles, charts as data: URIs, no external reference. */
import type { ResultsDocument } from '../results/schema.js';
import type { RenderedChart } from './charts.js';
import { machineLine, phaseTable, revisionLine, scenarioLine, summaryTable, targetTable, type Table } from './tables.js';

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function htmlTable(table: Table): string {
  const cell = (tag: 'th' | 'td', text: string, i: number) => `<${tag}${table.numeric[i] ? ' class="num"' : ''}>${escapeHtml(text)}</${tag}>`;
  const head = `<tr>${table.header.map((h, i) => cell('th', h, i)).join('')}</tr>`;
  const body = table.rows.map((row) => `<tr>${row.map((c, i) => cell('td', c, i)).join('')}</tr>`).join('\n');
  return `<table>\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1000px; color: #222; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; } th { background: #f3f3f3; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
ul.facts { color: #444; } figure { margin: 1.5rem 0; } img { max-width: 100%; border: 1px solid #ddd; }
`;

export function renderHtml(document: ResultsDocument, charts: readonly RenderedChart[]): string {
  const phases = phaseTable(document);
  const targets = targetTable(document);
  const title = `mcpwarm bench ${document.benchmark}: run ${document.runId}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<ul class="facts">
<li>scenario: ${escapeHtml(scenarioLine(document))}</li>
<li>${escapeHtml(revisionLine(document))}; ${escapeHtml(document.startedAt)} to ${escapeHtml(document.finishedAt)}</li>
<li>machine: ${escapeHtml(machineLine(document.machine))}</li>
</ul>
<h2>Latency per variant</h2>
${htmlTable(summaryTable(document))}
${phases ? `<h2>Phases</h2>\n${htmlTable(phases)}` : ''}
${targets ? `<h2>Targets</h2>\n${htmlTable(targets)}` : ''}
<h2>Charts</h2>
${charts
  .map((c) => `<figure><img alt="${escapeHtml(c.title)}" src="data:image/png;base64,${c.png.toString('base64')}"><figcaption>${escapeHtml(c.title)}</figcaption></figure>`)
  .join('\n')}
</body>
</html>
`;
}

/** Benchmark figures as aligned text tables on stderr. */
import type { Summary } from '../measure/stats.js';

export interface TargetLine {
  name: string;
  expected: string;
  measured: number;
  met: boolean;
}

const cell = (value: number): string => value.toFixed(1).padStart(9);

export function summaryHeader(label: string): string {
  return `  ${label.padEnd(36)}${'p50'.padStart(9)}${'p90'.padStart(9)}${'p99'.padStart(9)}${'min'.padStart(9)}${'max'.padStart(9)}`;
}

export function summaryRow(name: string, summary: Summary): string {
  return `  ${name.padEnd(36)}${cell(summary.p50)}${cell(summary.p90)}${cell(summary.p99)}${cell(summary.min)}${cell(summary.max)}   n=${summary.n}`;
}

export function targetLines(targets: readonly TargetLine[]): string[] {
  return targets.map((t) => `  ${t.met ? 'MET   ' : 'MISSED'} ${t.name}: ${t.measured.toFixed(2)} (target ${t.expected})`);
}

/** The figures of a results document as plain tables and lines, for the Markdown and HTML reports alike. */
import type { MachineFingerprint } from '../measure/fingerprint.js';
import type { ResultsDocument, VariantResults } from '../results/schema.js';

export interface Table {
  header: string[];
  /** Per column: numbers right-aligned. */
  numeric: boolean[];
  rows: string[][];
}

/** Milliseconds with three significant digits or so: 0.42, 9.81, 98.1, 1,234. */
export function formatMs(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  const magnitude = Math.abs(value);
  if (magnitude >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(magnitude >= 10 ? 1 : 2);
}

export function formatRatio(value: number): string {
  return Number.isFinite(value) ? value.toFixed(value >= 10 ? 1 : 3) : '-';
}

const GIB = 2 ** 30;

export function machineLine(machine: MachineFingerprint): string {
  const limits = [
    machine.cgroup.memoryLimitBytes !== undefined ? `memory ${(machine.cgroup.memoryLimitBytes / GIB).toFixed(1)} GiB` : undefined,
    machine.cgroup.cpuQuota !== undefined ? `${machine.cgroup.cpuQuota.toFixed(2)} CPUs` : undefined,
  ].filter(Boolean);
  const cgroup = machine.cgroup.version === 'none' ? 'no cgroup' : `cgroup v${machine.cgroup.version} (${limits.length > 0 ? limits.join(', ') : 'no limits'})`;
  return [
    machine.cpuModel,
    `${machine.cores} cores`,
    `${(machine.memoryBytes / GIB).toFixed(0)} GiB`,
    `kernel ${machine.kernel}`,
    `Node ${machine.node}`,
    cgroup,
    `load ${machine.loadAverage1m.toFixed(2)}`,
  ].join(', ');
}

export function revisionLine(document: ResultsDocument): string {
  const revision = document.gitRevision ?? document.machine.gitRevision;
  if (revision === undefined) return 'revision unknown';
  return `revision ${revision.slice(0, 12)}${document.machine.gitDirty && revision === document.machine.gitRevision ? ' (with uncommitted changes)' : ''}`;
}

export function scenarioLine(document: ResultsDocument): string {
  const options = Object.entries(document.scenario.options)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join(',') : typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
    .join(', ');
  return `${document.scenario.name}${options ? ` (${options})` : ''}`;
}

export function summaryTable(document: ResultsDocument): Table {
  return {
    header: ['variant', 'n', 'p50 (ms)', 'p90 (ms)', 'p99 (ms)', 'max (ms)', 'mean (ms)'],
    numeric: [false, true, true, true, true, true, true],
    rows: document.variants.map((v) => {
      const s = v.summaryMs;
      return [v.label, String(s.n), formatMs(s.p50), formatMs(s.p90), formatMs(s.p99), formatMs(s.max), formatMs(s.mean)];
    }),
  };
}

/**
 * Every phase name of the variants, each variant's phases kept in their order (a phase first seen
 * in a later variant goes right after the phase it follows there): the columns and stack order.
 */
export function phaseNames(variants: readonly VariantResults[]): string[] {
  const names: string[] = [];
  for (const variant of variants) {
    (variant.phases ?? []).forEach((phase, i) => {
      if (names.includes(phase.name)) return;
      const previous = i === 0 ? -1 : names.indexOf(variant.phases![i - 1]!.name);
      names.splice(previous + 1, 0, phase.name);
    });
  }
  return names;
}

/** Median of each phase per variant; undefined when no variant has phases. */
export function phaseTable(document: ResultsDocument): Table | undefined {
  const withPhases = document.variants.filter((v) => v.phases !== undefined && v.phases.length > 0);
  if (withPhases.length === 0) return undefined;
  const names = phaseNames(withPhases);
  return {
    header: ['variant (medians, ms)', ...names],
    numeric: [false, ...names.map(() => true)],
    rows: withPhases.map((v) => [v.label, ...names.map((name) => formatMs(v.phases!.find((p) => p.name === name)?.summaryMs.p50))]),
  };
}

export function targetTable(document: ResultsDocument): Table | undefined {
  if (document.targets.length === 0) return undefined;
  return {
    header: ['', 'target', 'expected', 'measured'],
    numeric: [false, false, false, true],
    rows: document.targets.map((t) => [t.met ? 'PASS' : 'MISS', t.name, t.expected, t.measured === null ? '-' : t.measured.toFixed(2)]),
  };
}

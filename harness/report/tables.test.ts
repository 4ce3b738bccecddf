import { describe, expect, it } from 'vitest';
import { buildResults } from '../results/build.js';
import { markdownTable } from './markdown.js';
import { formatMs, phaseNames, phaseTable } from './tables.js';

const MACHINE = { cpuModel: 'test CPU', cores: 2, memoryBytes: 2 ** 33, kernel: '6.1.0', node: 'v20.20.0', cgroup: { version: 'none' as const }, loadAverage1m: 0.5 };

describe('phaseNames', () => {
  it("keeps each variant's phase order when merging them", () => {
    const document = buildResults({
      benchmark: 'x',
      startedAt: new Date().toISOString(),
      machine: MACHINE,
      variants: [
        { variant: 'warm', samplesMs: [1], phases: { resolve: [1], mount: [1], start: [1] } },
        { variant: 'cold', samplesMs: [1], phases: { resolve: [1], pull: [1], unpack: [1], start: [1], initialize: [1] } },
      ],
    });
    expect(phaseNames(document.variants)).toEqual(['resolve', 'pull', 'unpack', 'mount', 'start', 'initialize']);
    expect(phaseTable(document)!.rows).toEqual([
      ['warm', '1.00', '-', '-', '1.00', '1.00', '-'],
      ['cold', '1.00', '1.00', '1.00', '-', '1.00', '1.00'],
    ]);
  });
});

describe('formatMs', () => {
  it('gives about three significant digits', () => {
    expect([0.4213, 9.812, 98.14, 1234.5, Number.NaN].map(formatMs)).toEqual(['0.42', '9.81', '98.1', '1,235', '-']);
  });
});

describe('markdownTable', () => {
  it('pads columns, right-aligns numbers and escapes pipes', () => {
    expect(markdownTable({ header: ['name', 'n'], numeric: [false, true], rows: [['a|b', '10'], ['long name', '7']] })).toBe(
      ['| name      |   n |', '| --------- | --: |', '| a\\|b      |  10 |', '| long name |   7 |'].join('\n'),
    );
  });
});

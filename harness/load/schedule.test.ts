import { describe, expect, it } from 'vitest';
import { offeredRate, parseTrace, scheduleOffsets } from './schedule.js';

describe('scheduleOffsets', () => {
  it('spaces a constant rate by its period, from the start, for a duration or a count', () => {
    expect(scheduleOffsets({ pattern: 'constant', ratePerSecond: 4 }, { durationMs: 1000 })).toEqual([0, 250, 500, 750]);
    const many = scheduleOffsets({ pattern: 'constant', ratePerSecond: 3 }, { count: 3001 });
    // Each offset computed from i, never accumulated: no drift after thousands of periods.
    expect(many[3000]).toBe(1_000_000);
  });

  it('draws a seeded Poisson schedule, the same for a duration and a count', () => {
    const byDuration = scheduleOffsets({ pattern: 'poisson', ratePerSecond: 100, seed: 5 }, { durationMs: 10_000 });
    const byCount = scheduleOffsets({ pattern: 'poisson', ratePerSecond: 100, seed: 5 }, { count: 200 });
    expect(byCount).toHaveLength(200);
    expect(byCount).toEqual(byDuration.slice(0, 200));
    expect(Math.abs(byDuration.length / 1000 - 1)).toBeLessThan(0.1);
  });

  it('sends bursts of `size` at once every interval', () => {
    expect(scheduleOffsets({ pattern: 'burst', size: 3, everyMs: 500 }, { count: 7 })).toEqual([0, 0, 0, 500, 500, 500, 1000]);
    expect(scheduleOffsets({ pattern: 'burst', size: 2, everyMs: 500 }, { durationMs: 1000 })).toEqual([0, 0, 500, 500]);
  });

  it('replays a trace, cut to the length', () => {
    expect(scheduleOffsets({ pattern: 'trace', offsetsMs: [0, 5, 5, 40] }, { durationMs: 10 })).toEqual([0, 5, 5]);
    expect(scheduleOffsets({ pattern: 'trace', offsetsMs: [0, 5, 5, 40] }, { count: 2 })).toEqual([0, 5]);
  });

  it('refuses impossible patterns with a coded error', () => {
    const refused = expect.objectContaining({ code: 'USAGE_INVALID' });
    expect(() => scheduleOffsets({ pattern: 'constant', ratePerSecond: 0 }, { count: 1 })).toThrow(refused);
    expect(() => scheduleOffsets({ pattern: 'burst', size: 1.5, everyMs: 10 }, { count: 1 })).toThrow(refused);
    expect(() => scheduleOffsets({ pattern: 'trace', offsetsMs: [5, 1] }, { count: 2 })).toThrow(/ascend/);
    expect(() => scheduleOffsets({ pattern: 'constant', ratePerSecond: 1 }, { count: 1.5 })).toThrow(refused);
  });
});

describe('parseTrace', () => {
  it('reads one offset per line with comments, or a JSON array', () => {
    expect(parseTrace('# recorded\n0\n\n12.5  # second\n40\n')).toEqual([0, 12.5, 40]);
    expect(parseTrace('[0, 1, 2]')).toEqual([0, 1, 2]);
  });

  it('names the line that is not a number', () => {
    expect(() => parseTrace('0\n# c\nabc\n')).toThrow(/line 3/);
  });
});

describe('offeredRate', () => {
  it('is the mean rate of each pattern', () => {
    expect(offeredRate({ pattern: 'burst', size: 10, everyMs: 2000 })).toBe(5);
    expect(offeredRate({ pattern: 'trace', offsetsMs: [0, 250, 500, 1000] })).toBe(3);
    expect(offeredRate({ pattern: 'poisson', ratePerSecond: 7, seed: 1 })).toBe(7);
  });
});

import { describe, expect, it } from 'vitest';
import { CLAIMED_AT_ANNOTATION } from '../../runner/controller/claim.js';
import { refillTimes, RunnerTimeline, type RunnerSighting } from './refill.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();

function runner(id: string, createdMs: number, state: string, phase: string, claimedMs?: number): RunnerSighting {
  return { id, state, phase, createdAt: iso(createdMs), annotations: claimedMs === undefined ? {} : { [CLAIMED_AT_ANNOTATION]: iso(claimedMs) } };
}

describe('refillTimes', () => {
  it('matches each claim to the next runner ready at or after it, first come first served', () => {
    expect(refillTimes([0, 100, 900], [1000, 1100, 1200])).toEqual({ refillMs: [1000, 1000, 300], unreplaced: 0 });
  });

  it('ignores runners ready before a claim and counts claims nobody replaced', () => {
    expect(refillTimes([500, 600, 700], [100, 800])).toEqual({ refillMs: [300], unreplaced: 2 });
    expect(refillTimes([], [100])).toEqual({ refillMs: [], unreplaced: 0 });
  });

  it('does not depend on the order it is given', () => {
    expect(refillTimes([900, 0, 100], [1200, 1000, 1100])).toEqual(refillTimes([0, 100, 900], [1000, 1100, 1200]));
  });
});

describe('RunnerTimeline', () => {
  it('records claims, ready times and start times of runners made while watching', () => {
    const timeline = new RunnerTimeline();
    // At the start: r1 warm and ready, r0 the hot tier's (claimed before watching).
    timeline.observe([runner('r0', -5000, 'claimed', 'running', -3000), runner('r1', -4000, 'warm', 'running')], T0);
    // r1 is claimed at +100; its replacement r2 is created at +120.
    timeline.observe([runner('r0', -5000, 'claimed', 'running', -3000), runner('r1', -4000, 'claimed', 'running', 100), runner('r2', 120, 'warm', 'pending')], T0 + 150);
    timeline.observe([runner('r1', -4000, 'claimed', 'running', 100), runner('r2', 120, 'warm', 'pending')], T0 + 600);
    timeline.observe([runner('r1', -4000, 'draining', 'running', 100), runner('r2', 120, 'warm', 'running')], T0 + 1250);
    expect(timeline.claims()).toEqual([T0 + 100]);
    expect(timeline.readyTimes()).toEqual([T0 + 1250]);
    expect(timeline.startTimes()).toEqual([1130]);
    expect(refillTimes(timeline.claims(), timeline.readyTimes())).toEqual({ refillMs: [1150], unreplaced: 0 });
  });

  it('takes a runner claimed between two listings as ready by its claim', () => {
    const timeline = new RunnerTimeline();
    timeline.observe([runner('r1', 0, 'warm', 'pending')], T0 + 10);
    timeline.observe([runner('r1', 0, 'claimed', 'running', 700)], T0 + 800);
    expect(timeline.readyTimes()).toEqual([T0 + 700]);
    expect(timeline.claims()).toEqual([T0 + 700]);
  });

  it('counts a runner still starting at the first listing as made while watching', () => {
    const timeline = new RunnerTimeline();
    timeline.observe([runner('r1', -200, 'warm', 'pending')], T0);
    timeline.observe([runner('r1', -200, 'warm', 'running')], T0 + 300);
    expect(timeline.startTimes()).toEqual([500]);
  });
});

import { describe, expect, it } from 'vitest';
import { phasesSince } from './image-pulls.js';

const phases = { resolveMs: 10, pullMs: 100, unpackMs: 20, totalMs: 130 };

describe('phasesSince', () => {
  it('gives the whole pull to a caller that started it', () => {
    expect(phasesSince(phases, 1000, 1000)).toEqual(phases);
  });

  it('gives a caller that joined during the download the rest of it and the unpack', () => {
    expect(phasesSince(phases, 1000, 1050)).toEqual({ resolveMs: 0, pullMs: 60, unpackMs: 20, totalMs: 80 });
  });

  it('gives a caller that joined during the unpack only what was left of it', () => {
    expect(phasesSince(phases, 1000, 1125)).toEqual({ resolveMs: 0, pullMs: 0, unpackMs: 5, totalMs: 5 });
  });

  it('gives nothing to a caller that joined as it ended', () => {
    expect(phasesSince(phases, 1000, 1200)).toEqual({ resolveMs: 0, pullMs: 0, unpackMs: 0, totalMs: 0 });
  });
});

import { describe, expect, it } from 'vitest';
import type { ToolCaller } from './strategies-lean-clients.js';
import { interleavedLatency } from './strategies-latency.js';
import { TOOLS } from './strategies-load.js';

/** Clients that record the order of their calls. */
function recordingClients(names: string[]): { clients: Map<string, ToolCaller>; calls: string[] } {
  const calls: string[] = [];
  const clients = new Map(names.map((name): [string, ToolCaller] => [name, { callTool: async () => void calls.push(name), close: async () => undefined }]));
  return { clients, calls };
}

describe('interleavedLatency', () => {
  it('gives every client one turn of calls in a row per round, in a seeded random order, and splits each turn into after idle and back to back', async () => {
    const names = ['direct', 'a', 'b'];
    const { clients, calls } = recordingClients(names);
    const samples = await interleavedLatency({ clients, tool: TOOLS.fast, rounds: 6, warmupRounds: 2, callsPerTurn: 3, seed: 7 });
    expect(calls).toHaveLength(8 * 3 * 3);
    const turns: string[][] = [];
    for (let at = 0; at < calls.length; at += 3) turns.push(calls.slice(at, at + 3));
    // Each turn is one client's three calls in a row; each round has every client once.
    for (const turn of turns) expect(new Set(turn).size).toBe(1);
    const rounds = Array.from({ length: 8 }, (_, r) => turns.slice(r * 3, r * 3 + 3).map((turn) => turn[0]));
    for (const round of rounds) expect([...round].sort()).toEqual([...names].sort());
    expect(new Set(rounds.map((round) => round.join())).size).toBeGreaterThan(1);
    // Warm-up rounds are not recorded: 6 rounds of one call after idle and two back to back.
    for (const name of names) {
      expect(samples['after-idle'].get(name)).toHaveLength(6);
      expect(samples['back-to-back'].get(name)).toHaveLength(12);
    }
    const again = recordingClients(names);
    await interleavedLatency({ clients: again.clients, tool: TOOLS.fast, rounds: 6, warmupRounds: 2, callsPerTurn: 3, seed: 7 });
    expect(again.calls).toEqual(calls);
  });

  it('refuses a turn too short to have a call back to back', async () => {
    const { clients } = recordingClients(['direct']);
    await expect(interleavedLatency({ clients, tool: TOOLS.fast, rounds: 1, warmupRounds: 0, callsPerTurn: 1, seed: 1 })).rejects.toThrow(RangeError);
  });
});

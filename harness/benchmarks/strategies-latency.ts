/**
 * The added-latency phase of `bench strategies`: the fast tool called one request at a time
 * (closed loop, concurrency 1) directly over stdio and through each gateway, with two kinds of
 * client: lean ones (strategies-lean-clients.ts: what the gateway itself adds) and the MCP SDK's
 * (what an SDK user sees). Every round gives each client a turn of a few calls in a row, in a
 * random order, so drift in the machine's load reaches every side alike.
 */
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { BENCH_CLIENT_INFO } from '../load/mcp-http-load.js';
import { seededRandom } from '../measure/prng.js';
import { shuffled } from '../measure/stats.js';
import type { ToolCaller } from './strategies-lean-clients.js';
import { callTool, type ToolCall } from './strategies-load.js';

export const CLIENT_KINDS = ['lean', 'sdk'] as const;
export type ClientKind = (typeof CLIENT_KINDS)[number];

export const DIRECT = 'direct';

/** The server over stdio with the SDK client: the floor of the SDK side. */
export async function sdkStdioClient(server: readonly string[]): Promise<ToolCaller> {
  const client = new Client(BENCH_CLIENT_INFO);
  await client.connect(new StdioClientTransport({ command: server[0]!, args: server.slice(1), stderr: 'ignore' }));
  return { callTool: (tool) => callTool(client, tool), close: () => client.close() };
}

/**
 * How a call meets the gateway: `after-idle`, the first call of a client's turn, after the other
 * clients' turns (the gateway and its server idle meanwhile, so each process in the path wakes up
 * for it); `back-to-back`, the calls that follow it at once, as in a stream of requests.
 */
export const LATENCY_MODES = ['after-idle', 'back-to-back'] as const;
export type LatencyMode = (typeof LATENCY_MODES)[number];

export interface InterleavedOptions {
  /** Name to client. */
  clients: ReadonlyMap<string, ToolCaller>;
  tool: ToolCall;
  rounds: number;
  /** Rounds run first and not recorded. */
  warmupRounds: number;
  /** Calls a client makes in a row in its turn (at least 2: one after idle, the rest back to back). */
  callsPerTurn: number;
  seed: number;
  onRound?: (done: number) => void;
}

/**
 * Samples per mode and name in ms. Every round gives each name one turn, in random order; sample
 * i of every name in a mode comes from the same round (and place in the turn), so rounds stay paired.
 */
export async function interleavedLatency(options: InterleavedOptions): Promise<Record<LatencyMode, Map<string, number[]>>> {
  if (!(Number.isInteger(options.callsPerTurn) && options.callsPerTurn >= 2)) throw new RangeError(`callsPerTurn ${options.callsPerTurn}: expected a whole number >= 2`);
  const random = seededRandom(options.seed);
  const names = [...options.clients.keys()];
  const samples = { 'after-idle': new Map<string, number[]>(), 'back-to-back': new Map<string, number[]>() };
  for (const name of names) for (const mode of LATENCY_MODES) samples[mode].set(name, []);
  for (let round = 0; round < options.warmupRounds + options.rounds; round += 1) {
    for (const name of shuffled(names, random)) {
      const client = options.clients.get(name)!;
      for (let call = 0; call < options.callsPerTurn; call += 1) {
        const started = performance.now();
        await client.callTool(options.tool);
        if (round >= options.warmupRounds) samples[call === 0 ? 'after-idle' : 'back-to-back'].get(name)!.push(performance.now() - started);
      }
    }
    if (round >= options.warmupRounds) options.onRound?.(round + 1 - options.warmupRounds);
  }
  return samples;
}

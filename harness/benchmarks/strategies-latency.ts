/**
 * The added-latency phase of `bench strategies`: the fast tool called one request at a time
 * (closed loop, concurrency 1) directly over stdio and through each gateway, with two kinds of
 * client: lean ones (strategies-lean-clients.ts: what the gateway itself adds) and the MCP SDK's
 * (what an SDK user sees). Every round makes one call on each, in a random order, so drift in
 * the machine's load reaches every side alike.
 */
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { seededRandom } from '../measure/prng.js';
import { shuffled } from '../measure/stats.js';
import type { ToolCaller } from './strategies-lean-clients.js';
import { callTool, type ToolCall } from './strategies-load.js';

export const CLIENT_KINDS = ['lean', 'sdk'] as const;
export type ClientKind = (typeof CLIENT_KINDS)[number];

export const DIRECT = 'direct';

/** The server over stdio with the SDK client: the floor of the SDK side. */
export async function sdkStdioClient(server: readonly string[]): Promise<ToolCaller> {
  const client = new Client({ name: 'mcpwarm-bench', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: server[0]!, args: server.slice(1), stderr: 'ignore' }));
  return { callTool: (tool) => callTool(client, tool), close: () => client.close() };
}

export interface InterleavedOptions {
  /** Name to client. */
  clients: ReadonlyMap<string, ToolCaller>;
  tool: ToolCall;
  rounds: number;
  /** Rounds run first and not recorded. */
  warmupRounds: number;
  seed: number;
  onRound?: (done: number) => void;
}

/** Samples per name in ms, sample i of every name from round i. */
export async function interleavedLatency(options: InterleavedOptions): Promise<Map<string, number[]>> {
  const random = seededRandom(options.seed);
  const names = [...options.clients.keys()];
  const samples = new Map(names.map((name) => [name, [] as number[]]));
  for (let round = 0; round < options.warmupRounds + options.rounds; round += 1) {
    for (const name of shuffled(names, random)) {
      const started = performance.now();
      await options.clients.get(name)!.callTool(options.tool);
      if (round >= options.warmupRounds) samples.get(name)!.push(performance.now() - started);
    }
    if (round >= options.warmupRounds) options.onRound?.(round + 1 - options.warmupRounds);
  }
  return samples;
}

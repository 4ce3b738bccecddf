/**
 * One open-loop step of `bench strategies`: `tools/call` requests on a fixed schedule (seeded
 * Poisson arrivals, or constant gaps; strategies-saturation.ts),
 * spread over a pool of MCP sessions (the SDK's Streamable HTTP client), each charged from its
 * planned send time; the gateway's process tree sampled meanwhile for its memory and servers.
 * Requests still unanswered a while after the schedule ends are cancelled and count as errors, so
 * an overloaded gateway cannot hold the run up and the next step starts on a quiet gateway.
 */
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { runOpenLoop } from '../load/open-loop.js';
import { watchTree } from './process-tree.js';
import { stepFigures, stepSchedule, type StepFigures, type StepOutcome } from './strategies-saturation.js';

export const TOOL_NAMES = ['fast', 'slow'] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

export interface ToolCall {
  label: string;
  name: string;
  arguments: Record<string, unknown>;
}

/** The fixture server's tools: an echo, and one that waits 100 ms before answering. */
export const TOOLS: Record<ToolName, ToolCall> = {
  fast: { label: 'echo', name: 'echo', arguments: { text: 'ping' } },
  slow: { label: 'work, 100 ms', name: 'work', arguments: { latencyMs: 100 } },
};

/** Why a request failed, for counting: MCP error codes, HTTP statuses, socket errors. */
export function errorKind(error: unknown): string {
  if (error instanceof StreamableHTTPError) return `HTTP ${error.code ?? '?'}`;
  if (error instanceof McpError) return error.code === -32001 ? 'TIMEOUT' : `MCP ${error.code}`;
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof (error as { code?: unknown } | undefined)?.code === 'string') return (error as { code: string }).code;
  return error instanceof Error ? error.name : 'ERROR';
}

/** Calls the tool; an answer flagged isError is a failure too. */
export async function callTool(client: Client, tool: ToolCall, signal?: AbortSignal): Promise<void> {
  const result = await client.callTool({ name: tool.name, arguments: tool.arguments }, undefined, signal ? { signal } : {});
  if (result.isError) throw Object.assign(new Error(`${tool.name} answered isError`), { code: 'TOOL_ERROR' });
}

export interface StepOptions {
  clients: readonly Client[];
  tool: ToolCall;
  rate: number;
  arrivals: 'poisson' | 'constant';
  durationMs: number;
  seed: number;
  /** How long after the schedule's end unanswered requests are cancelled (ABANDONED). */
  drainMs: number;
  /** Outstanding requests at most; one due beyond is not sent (DROPPED). */
  maxInFlight: number;
  /** The gateway process and the marker its servers carry. */
  gatewayPid: number;
  marker: string;
  sampleEveryMs: number;
}

export interface StepResult {
  figures: StepFigures;
  /** Peak number of server processes in the gateway's tree during the step. */
  servers: number;
  /** Peak resident memory of the gateway's whole tree during the step. */
  rssBytes: number;
  /** Peak resident memory of the gateway process alone. */
  gatewayRssBytes: number;
  /** Sends later than 2 ms after their planned time: the load generator falling behind. */
  lateSends: number;
  /** Latencies of the answered requests, ms. */
  latenciesMs: number[];
}

export async function runStep(options: StepOptions): Promise<StepResult> {
  const offsets = stepSchedule(options.arrivals, options.rate, options.durationMs, options.seed);
  const outstanding = new Map<number, AbortController>();
  const abandoned = new Set<number>();
  const deadline = setTimeout(() => {
    for (const [index, controller] of outstanding) {
      abandoned.add(index);
      controller.abort(new Error('unanswered when the step ended'));
    }
  }, options.durationMs + options.drainMs);
  const watch = watchTree(options.gatewayPid, options.marker, options.sampleEveryMs);
  const run = await runOpenLoop({
    offsetsMs: offsets,
    maxInFlight: options.maxInFlight,
    operation: async (index) => {
      // One signal per request: the SDK never removes its abort listener, so a shared one would cancel every request ever sent.
      const controller = new AbortController();
      outstanding.set(index, controller);
      try {
        await callTool(options.clients[index % options.clients.length]!, options.tool, controller.signal);
      } finally {
        outstanding.delete(index);
      }
    },
  }).finally(() => clearTimeout(deadline));
  const usage = await watch.stop();
  const outcomes: StepOutcome[] = [
    ...run.operations.map(
      (op): StepOutcome =>
        op.ok ? { ok: true, plannedMs: op.plannedMs, endedMs: op.endedMs, latencyMs: op.latencyMs } : { ok: false, plannedMs: op.plannedMs, error: abandoned.has(op.index) ? 'ABANDONED' : errorKind(op.error) },
    ),
    ...run.droppedPlannedMs.map((plannedMs): StepOutcome => ({ ok: false, plannedMs, error: 'DROPPED' })),
  ];
  return {
    figures: stepFigures(options.rate, options.durationMs, outcomes),
    servers: usage.peakServers,
    rssBytes: usage.peakRssBytes,
    gatewayRssBytes: usage.peakRootRssBytes,
    lateSends: run.late,
    latenciesMs: run.operations.filter((op) => op.ok).map((op) => op.latencyMs),
  };
}

/**
 * Lean MCP clients for the added-latency phase: about the least a client can do per call over
 * stdio (a JSON line on a pipe) and over Streamable HTTP (one POST on a kept-alive connection,
 * the answer read whole, with undici: the quickest HTTP/1.1 client for Node). The SDK's Streamable HTTP client spends milliseconds of its own per call
 * (fetch and a streaming SSE parser), which would hide what a gateway adds; with these, the
 * difference between the two sides is the gateway and the HTTP hop.
 */
import { spawn } from 'node:child_process';
import { Client } from 'undici';
import { McpWarmError } from '../../runner/errors.js';
import { answerMessages, BENCH_CLIENT_INFO } from '../load/mcp-http-load.js';
import { LATEST_PROTOCOL_VERSION, probeReadiness } from '../../runner/mcp/initialize.js';
import { isJsonObject, type JsonObject } from '../../runner/mcp/jsonrpc.js';
import { StdioMcpConnection } from '../../runner/mcp/stdio-connection.js';
import type { ToolCall } from './strategies-load.js';

/** Calls a tool and waits for its answer; the lean clients here and the SDK's (strategies-latency.ts) alike. */
export interface ToolCaller {
  callTool(tool: ToolCall): Promise<void>;
  close(): Promise<void>;
}

function checkToolResult(result: unknown, tool: ToolCall): void {
  if (!isJsonObject(result) || result.isError === true) throw Object.assign(new Error(`${tool.name} answered isError or no result`), { code: 'TOOL_ERROR' });
}

/** The server spawned with its stdio on pipes, initialized once. */
export async function leanStdioClient(server: readonly string[]): Promise<ToolCaller> {
  const child = spawn(server[0]!, server.slice(1), { stdio: ['pipe', 'pipe', 'ignore'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  const connection = new StdioMcpConnection({ stdin: child.stdin!, stdout: child.stdout!, exited });
  const close = async () => {
    connection.close();
    child.kill('SIGKILL');
    await exited;
  };
  try {
    await probeReadiness(connection, { timeoutMs: 30_000, clientInfo: BENCH_CLIENT_INFO, stderrTail: () => '', exited });
  } catch (error) {
    await close();
    throw error;
  }
  return {
    callTool: async (tool) => checkToolResult(await connection.request('tools/call', { name: tool.name, arguments: tool.arguments }), tool),
    close,
  };
}

interface HttpAnswer {
  status: number;
  sessionId: string | undefined;
  messages: JsonObject[];
}

/** A session opened with initialize, then one POST per call on one kept-alive connection (undici's Client). */
export async function leanHttpClient(endpoint: string): Promise<ToolCaller> {
  const url = new URL(endpoint);
  const connection = new Client(url.origin, { pipelining: 1 });
  let sessionId: string | undefined;
  let nextId = 1;
  const send = async (method: 'POST' | 'DELETE', body?: JsonObject): Promise<HttpAnswer> => {
    const headers: Record<string, string> = { accept: 'application/json, text/event-stream', 'mcp-protocol-version': LATEST_PROTOCOL_VERSION };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (sessionId !== undefined) headers['mcp-session-id'] = sessionId;
    const answer = await connection.request({ path: url.pathname, method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const session = answer.headers['mcp-session-id'];
    return { status: answer.statusCode, sessionId: typeof session === 'string' ? session : undefined, messages: answerMessages(await answer.body.text()).filter(isJsonObject) };
  };
  const call = async (method: string, params: JsonObject): Promise<{ answer: HttpAnswer; result: unknown }> => {
    const id = nextId++;
    const answer = await send('POST', { jsonrpc: '2.0', id, method, params });
    const reply = answer.messages.find((message) => message.id === id);
    if (answer.status !== 200 || reply === undefined || reply.error !== undefined) {
      throw new McpWarmError('SERVER_PROTOCOL', `${method} through ${endpoint}: HTTP ${answer.status}, ${JSON.stringify(reply?.error ?? answer.messages).slice(0, 300)}`);
    }
    return { answer, result: reply.result };
  };
  try {
    sessionId = (await call('initialize', { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: BENCH_CLIENT_INFO })).answer.sessionId;
    await send('POST', { jsonrpc: '2.0', method: 'notifications/initialized' });
  } catch (error) {
    await connection.destroy();
    throw error;
  }
  return {
    callTool: async (tool) => checkToolResult((await call('tools/call', { name: tool.name, arguments: tool.arguments })).result, tool),
    close: async () => {
      if (sessionId !== undefined) await send('DELETE').catch(() => undefined);
      await connection.close();
    },
  };
}

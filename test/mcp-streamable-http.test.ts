import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, McpError, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { LineDecoder } from '../runner/mcp/framing.js';
import { createStreamableHttpEndpoint, type StreamableHttpEndpoint } from '../runner/mcp/http/streamable-http-endpoint.js';
import { probeReadiness } from '../runner/mcp/initialize.js';
import type { JsonRpcMessage } from '../runner/mcp/jsonrpc.js';
import { StderrBuffer } from '../runner/mcp/stderr-buffer.js';
import { StdioMcpConnection } from '../runner/mcp/stdio-connection.js';
import type { ExitStatus } from '../runner/sandbox/types.js';
import { messagesOf, post, rawSession, sseMessages, textOf } from './support/mcp-http.js';

const FIXTURE = fileURLToPath(new URL('../scenarios/fixtures/mcp-fixture-server/server.mjs', import.meta.url));
const MAX_BODY_BYTES = 64 * 1024;

/** A stdio server that asks its client to sample (sampling/createMessage) inside every tools/call. */
const SAMPLING_SERVER = `
const send = (message) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...message }) + '\\n');
const calls = new Map();
let asked = 0;
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const message = JSON.parse(line);
  if (message.method === 'initialize') {
    send({ id: message.id, result: { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'sampler', version: '1' } } });
  } else if (message.method === 'tools/call') {
    asked += 1;
    calls.set('sample-' + asked, message.id);
    send({ id: 'sample-' + asked, method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: { type: 'text', text: 'say hi' } }], maxTokens: 10 } });
  } else if (calls.has(message.id)) {
    const text = message.result ? message.result.content.text : 'client error: ' + message.error.message;
    send({ id: calls.get(message.id), result: { content: [{ type: 'text', text: 'sampled: ' + text }] } });
  }
});
`;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Bridge {
  url: URL;
  endpoint: StreamableHttpEndpoint;
  /** Every message written to the server's stdin, in order. */
  sentToServer: JsonRpcMessage[];
  waitForSent(predicate: (message: JsonRpcMessage) => boolean): Promise<JsonRpcMessage>;
}

/** A probed stdio server behind the endpoint, mounted on a node:http server on a free loopback port. */
async function startBridge(args: string[] = [FIXTURE], sessionIdleTimeoutMs?: number): Promise<Bridge> {
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  child.stdin.on('error', () => {});
  const exited = new Promise<ExitStatus>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const stderr = new StderrBuffer(child.stderr);

  const sentToServer: JsonRpcMessage[] = [];
  const tap = new PassThrough();
  const decoder = new LineDecoder();
  tap.on('data', (chunk: Buffer) => {
    for (const line of decoder.push(chunk)) if (line.kind === 'message') sentToServer.push(line.message);
  });
  tap.pipe(child.stdin);

  const connection = new StdioMcpConnection({ stdin: tap, stdout: child.stdout, exited });
  const readiness = await probeReadiness(connection, { timeoutMs: 10_000, stderrTail: () => stderr.tail(10), exited });
  const endpoint = createStreamableHttpEndpoint({
    backend: connection,
    initialize: readiness,
    maxBodyBytes: MAX_BODY_BYTES,
    maxSessions: 1,
    ...(sessionIdleTimeoutMs !== undefined ? { sessionIdleTimeoutMs } : {}),
  });
  const server: Server = createServer((req, res) => void endpoint.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    await endpoint.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as AddressInfo;

  const waitForSent = async (predicate: (message: JsonRpcMessage) => boolean) => {
    const deadline = Date.now() + 5000;
    for (;;) {
      const found = sentToServer.find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`the server was sent no such message; it got ${JSON.stringify(sentToServer)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  return { url: new URL(`http://127.0.0.1:${port}/instances/test/mcp`), endpoint, sentToServer, waitForSent };
}

async function connectClient(url: URL, capabilities = {}): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(url);
  const client = new Client({ name: 'http-test', version: '1.0.0' }, { capabilities });
  await client.connect(transport);
  cleanups.push(async () => {
    await transport.terminateSession().catch(() => {});
    await client.close();
  });
  return { client, transport };
}

function method(message: JsonRpcMessage): string | undefined {
  return 'method' in message ? message.method : undefined;
}

const callWork = (id: number | string, args: Record<string, unknown>) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'work', arguments: args } });

describe('Streamable HTTP endpoint with the official SDK client', () => {
  it('connects without a second initialize to the server, lists tools and calls them', async () => {
    const bridge = await startBridge();
    const { client } = await connectClient(bridge.url);
    expect(client.getServerVersion()).toEqual({ name: 'mcp-fixture-server', version: '1.0.0' });
    expect(bridge.endpoint.sessionCount).toBe(1);

    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(['crash', 'echo', 'notify', 'progress', 'work']);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'through HTTP' } }))).toBe('through HTTP');
    expect(textOf(await client.callTool({ name: 'work', arguments: { latencyMs: 20, payloadBytes: 50_000 } }))).toHaveLength(50_000);

    // The probe's initialize and initialized are the only ones the server ever got.
    expect(bridge.sentToServer.filter((message) => method(message) === 'initialize')).toHaveLength(1);
    expect(bridge.sentToServer.filter((message) => method(message) === 'notifications/initialized')).toHaveLength(1);
    expect(bridge.sentToServer[0]).toMatchObject({ method: 'initialize', params: { clientInfo: { name: 'mcpwarm' } } });
  });

  it('streams progress notifications of a call to its onprogress, under rewritten tokens', async () => {
    const bridge = await startBridge();
    const { client } = await connectClient(bridge.url);
    const progress: number[] = [];
    const result = await client.callTool({ name: 'progress', arguments: { steps: 3, intervalMs: 20 } }, undefined, {
      onprogress: (update) => progress.push(update.progress),
    });
    expect(textOf(result)).toBe('completed 3 steps');
    // The SDK runs notification handlers a microtask after response handlers: the last one may lose the race.
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress).toEqual([1, 2, 3].slice(0, progress.length));
    const call = (await bridge.waitForSent((message) => method(message) === 'tools/call')) as Record<string, any>;
    expect(call.params._meta.progressToken).toBe(call.id);
  });

  it('delivers a server notification through the GET stream', async () => {
    const bridge = await startBridge();
    const { client } = await connectClient(bridge.url);
    const changed = new Promise<void>((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()));
    await client.callTool({ name: 'notify', arguments: { kind: 'tools_list_changed' } });
    await changed;
  });

  it('turns an aborted call into notifications/cancelled for the server', async () => {
    const bridge = await startBridge();
    const { client } = await connectClient(bridge.url);
    const controller = new AbortController();
    const call = client.callTool({ name: 'work', arguments: { latencyMs: 10_000 } }, undefined, { signal: controller.signal });
    const forwarded = await bridge.waitForSent((message) => method(message) === 'tools/call');
    controller.abort('the user gave up');
    await expect(call).rejects.toThrow();
    const cancelled = (await bridge.waitForSent((message) => method(message) === 'notifications/cancelled')) as Record<string, any>;
    expect(cancelled.params.requestId).toBe((forwarded as Record<string, any>).id);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'still here' } }))).toBe('still here');
  });

  it('refuses a second session while one is open, and admits one after DELETE', async () => {
    const bridge = await startBridge();
    const first = await connectClient(bridge.url);
    const refused = await connectClient(bridge.url).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(StreamableHTTPError);
    expect((refused as StreamableHTTPError).code).toBe(409);
    expect((refused as Error).message).toMatch(/SESSION_CONFLICT/);

    await first.transport.terminateSession();
    expect(bridge.endpoint.sessionCount).toBe(0);
    const second = await connectClient(bridge.url);
    expect(textOf(await second.client.callTool({ name: 'echo', arguments: { text: 'second' } }))).toBe('second');
  });

  it('lets a new client take the place of a session left idle past the timeout', async () => {
    const bridge = await startBridge([FIXTURE], 300);
    const { client } = await connectClient(bridge.url);
    await client.listTools();
    // The first client vanishes without DELETE (client.close() sends none).
    await client.close();
    const early = await fetch(bridge.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'early', version: '1' } } }),
    });
    expect(early.status).toBe(409);
    await new Promise((resolve) => setTimeout(resolve, 350));
    const { client: second } = await connectClient(bridge.url);
    expect((await second.listTools()).tools.length).toBeGreaterThan(0);
    expect(bridge.endpoint.sessionCount).toBe(1);
  });

  it('forwards a server -> client request on the request stream and routes the answer back', async () => {
    const bridge = await startBridge(['-e', SAMPLING_SERVER]);
    const { client } = await connectClient(bridge.url, { sampling: {} });
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => ({
      model: 'test-model',
      role: 'assistant',
      content: { type: 'text', text: `hi (asked: ${(request.params.messages[0]!.content as { text: string }).text})` },
    }));
    const result = await client.callTool({ name: 'ask', arguments: {} });
    expect(textOf(result)).toBe('sampled: hi (asked: say hi)');
    expect(bridge.sentToServer).toContainEqual(expect.objectContaining({ id: 'sample-1', result: expect.objectContaining({ model: 'test-model' }) }));
  });

  it('gives a call in flight an error, not a hang, when the server crashes; then answers 502', async () => {
    const bridge = await startBridge();
    const { client } = await connectClient(bridge.url);
    const error = await client.callTool({ name: 'crash', arguments: { code: 4 } }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).code).toBe(-32000);
    expect((error as Error).message).toMatch(/the MCP server (exited \(exit code 4\)|closed its stdout); the request was lost/);

    const sessionId = client.transport instanceof StreamableHTTPClientTransport ? client.transport.sessionId! : '';
    const after = await post(bridge.url, callWork(9, {}), { 'mcp-session-id': sessionId });
    expect(after.status).toBe(502);
    expect(await after.json()).toMatchObject({ id: 9, error: { code: -32000, data: { code: 'SERVER_EXITED' } } });
  });
});

describe('Streamable HTTP endpoint, raw HTTP', () => {
  it('keeps ids 1 and "1" of concurrent requests apart', async () => {
    const bridge = await startBridge();
    const session = await rawSession(bridge.url);
    // Visible ASCII only, as the spec requires of a session id.
    expect(session).toMatch(/^[\x21-\x7e]{32}$/);
    const headers = { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
    const [numeric, text] = await Promise.all([
      post(bridge.url, callWork(1, { latencyMs: 150, payloadBytes: 1 }), headers),
      post(bridge.url, callWork('1', { latencyMs: 50, payloadBytes: 2 }), { ...headers, accept: 'application/json' }),
    ]);
    expect(numeric.headers.get('content-type')).toBe('text/event-stream');
    expect(await messagesOf(numeric)).toEqual([{ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'x' }] } }]);
    expect(text.headers.get('content-type')).toBe('application/json');
    expect(await messagesOf(text)).toEqual([{ jsonrpc: '2.0', id: '1', result: { content: [{ type: 'text', text: 'xx' }] } }]);
    const backendIds = bridge.sentToServer.filter((message) => method(message) === 'tools/call').map((message) => (message as { id: unknown }).id);
    expect(new Set(backendIds).size).toBe(2);
  });

  it('answers POSTed notifications with 202, swallowing initialized', async () => {
    const bridge = await startBridge();
    const session = await rawSession(bridge.url);
    const response = await post(bridge.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': session });
    expect(response.status).toBe(202);
    expect(await response.text()).toBe('');
    expect(bridge.sentToServer.filter((message) => method(message) === 'notifications/initialized')).toHaveLength(1);
  });

  it('ends a session on DELETE: in-flight calls are cancelled and the id then gets 404', async () => {
    const bridge = await startBridge();
    const session = await rawSession(bridge.url);
    const inFlight = post(bridge.url, callWork(7, { latencyMs: 10_000 }), { 'mcp-session-id': session });
    const forwarded = (await bridge.waitForSent((message) => method(message) === 'tools/call')) as Record<string, any>;

    const deleted = await fetch(bridge.url, { method: 'DELETE', headers: { 'mcp-session-id': session } });
    expect(deleted.status).toBe(204);
    const cancelled = (await bridge.waitForSent((message) => method(message) === 'notifications/cancelled')) as Record<string, any>;
    expect(cancelled.params).toEqual({ requestId: forwarded.id, reason: 'the client ended its session' });
    // The stream of the cancelled call ends without an answer.
    expect(await messagesOf(await inFlight)).toEqual([]);

    const after = await post(bridge.url, callWork(8, {}), { 'mcp-session-id': session });
    expect(after.status).toBe(404);
    expect(await after.json()).toMatchObject({ error: { code: -32001, data: { code: 'SESSION_NOT_FOUND' } } });
    expect((await fetch(bridge.url, { method: 'DELETE', headers: { 'mcp-session-id': session } })).status).toBe(404);
  });

  it('sends notifications/cancelled when the HTTP client disconnects mid-request', async () => {
    const bridge = await startBridge();
    const session = await rawSession(bridge.url);
    const controller = new AbortController();
    const call = fetch(bridge.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'mcp-session-id': session },
      body: JSON.stringify(callWork(3, { latencyMs: 10_000 })),
      signal: controller.signal,
    });
    const forwarded = (await bridge.waitForSent((message) => method(message) === 'tools/call')) as Record<string, any>;
    controller.abort();
    await expect(call).rejects.toThrow();
    const cancelled = (await bridge.waitForSent((message) => method(message) === 'notifications/cancelled')) as Record<string, any>;
    expect(cancelled.params).toEqual({ requestId: forwarded.id, reason: 'the HTTP client disconnected' });
  });

  it('refuses bad requests with JSON-RPC error bodies', async () => {
    const bridge = await startBridge();
    const session = await rawSession(bridge.url);

    const missing = await post(bridge.url, callWork(1, {}));
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ jsonrpc: '2.0', id: null, error: { message: expect.stringMatching(/Mcp-Session-Id/), data: { code: 'REQUEST_INVALID' } } });

    const oversized = await post(bridge.url, { jsonrpc: '2.0', method: 'notifications/x', params: { pad: 'p'.repeat(MAX_BODY_BYTES) } }, { 'mcp-session-id': session });
    expect(oversized.status).toBe(413);
    expect(await oversized.json()).toMatchObject({ error: { data: { code: 'REQUEST_TOO_LARGE' } } });

    const malformed = await post(bridge.url, '{"jsonrpc": "2.0", "id": 1,', { 'mcp-session-id': session });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ id: null, error: { code: -32700 } });

    const batch = await post(bridge.url, [callWork(1, {}), callWork(2, {})], { 'mcp-session-id': session });
    expect(batch.status).toBe(400);
    expect(await batch.json()).toMatchObject({ error: { code: -32600, message: expect.stringMatching(/batches are not supported/) } });

    const notRpc = await post(bridge.url, { id: 5, method: 'ping' }, { 'mcp-session-id': session });
    expect(notRpc.status).toBe(400);
    expect(await notRpc.json()).toMatchObject({ id: 5, error: { code: -32600, message: 'Invalid Request: jsonrpc is not "2.0"' } });

    const version = await post(bridge.url, callWork(1, {}), { 'mcp-session-id': session, 'mcp-protocol-version': '2099-01-01' });
    expect(version.status).toBe(400);
    expect(await version.json()).toMatchObject({ error: { message: expect.stringMatching(/unsupported MCP-Protocol-Version "2099-01-01"/) } });

    const reinitialize = await post(bridge.url, { jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }, { 'mcp-session-id': session });
    expect(reinitialize.status).toBe(400);

    const unknownAnswer = await post(bridge.url, { jsonrpc: '2.0', id: 'nobody-asked', result: {} }, { 'mcp-session-id': session });
    expect(unknownAnswer.status).toBe(400);

    const put = await fetch(bridge.url, { method: 'PUT', headers: { 'mcp-session-id': session } });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, POST, DELETE');

    // None of it reached the server, and the session still works.
    expect(bridge.sentToServer.map(method)).toEqual(['initialize', 'notifications/initialized']);
    const ok = await post(bridge.url, { jsonrpc: '2.0', id: 'ping', method: 'ping' }, { 'mcp-session-id': session });
    expect(await messagesOf(ok)).toEqual([{ jsonrpc: '2.0', id: 'ping', result: {} }]);
  });

  it('sends a server -> client request on the stream of the request in flight, else on the GET stream', async () => {
    const bridge = await startBridge(['-e', SAMPLING_SERVER]);
    const headers = { 'mcp-session-id': await rawSession(bridge.url) };
    const sampled = (id: string, text: string) => ({ jsonrpc: '2.0', id, result: { model: 'm', role: 'assistant', content: { type: 'text', text } } });
    const ask = (id: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'ask', arguments: {} } });

    const call = sseMessages(await post(bridge.url, ask('streamed'), headers));
    expect((await call.next()).value).toMatchObject({ id: 'sample-1', method: 'sampling/createMessage' });
    expect((await post(bridge.url, sampled('sample-1', 'one'), headers)).status).toBe(202);
    expect((await call.next()).value).toEqual({ jsonrpc: '2.0', id: 'streamed', result: { content: [{ type: 'text', text: 'sampled: one' }] } });
    expect((await call.next()).done).toBe(true);

    // A plain JSON reply cannot carry it: it goes on the GET stream.
    const standalone = sseMessages(await fetch(bridge.url, { headers: { ...headers, accept: 'text/event-stream' } }));
    const jsonCall = post(bridge.url, ask('plain'), { ...headers, accept: 'application/json' });
    expect((await standalone.next()).value).toMatchObject({ id: 'sample-2', method: 'sampling/createMessage' });
    expect((await post(bridge.url, sampled('sample-2', 'two'), headers)).status).toBe(202);
    expect(await (await jsonCall).json()).toEqual({ jsonrpc: '2.0', id: 'plain', result: { content: [{ type: 'text', text: 'sampled: two' }] } });
    // Each answer reached the server once, with the id the server gave its request.
    expect(bridge.sentToServer.filter((message) => 'result' in message).map((message) => (message as { id: unknown }).id)).toEqual(['sample-1', 'sample-2']);
  });

  it('close() cancels what is in flight, ends the sessions and refuses new ones', async () => {
    const bridge = await startBridge();
    const session = await rawSession(bridge.url);
    const inFlight = post(bridge.url, callWork(1, { latencyMs: 10_000 }), { 'mcp-session-id': session, accept: 'application/json' });
    const forwarded = (await bridge.waitForSent((message) => method(message) === 'tools/call')) as Record<string, any>;
    await bridge.endpoint.close();
    expect(bridge.endpoint.sessionCount).toBe(0);
    // A plain JSON reply needs a body: the cancelled call gets an error.
    expect(await (await inFlight).json()).toEqual({ jsonrpc: '2.0', id: 1, error: { code: -32000, message: 'the request was cancelled: the MCP endpoint closed' } });
    const cancelled = (await bridge.waitForSent((message) => method(message) === 'notifications/cancelled')) as Record<string, any>;
    expect(cancelled.params.requestId).toBe(forwarded.id);
    const refused = await post(bridge.url, { jsonrpc: '2.0', id: 2, method: 'initialize', params: {} });
    expect(refused.status).toBe(503);
  });

  it('opens one GET stream per session', async () => {
    const bridge = await startBridge();
    const session = await rawSession(bridge.url);
    const noAccept = await fetch(bridge.url, { headers: { 'mcp-session-id': session } });
    expect(noAccept.status).toBe(406);

    const controller = new AbortController();
    const stream = await fetch(bridge.url, { headers: { 'mcp-session-id': session, accept: 'text/event-stream' }, signal: controller.signal });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream');
    const second = await fetch(bridge.url, { headers: { 'mcp-session-id': session, accept: 'text/event-stream' } });
    expect(second.status).toBe(409);
    controller.abort();
  });
});

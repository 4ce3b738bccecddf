import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { LineDecoder, encodeMessage } from '../runner/mcp/framing.js';
import { probeReadiness, type ReadinessOptions } from '../runner/mcp/initialize.js';
import { isRequest, JsonRpcResponseError, type JsonRpcMessage, type JsonRpcRequest } from '../runner/mcp/jsonrpc.js';
import { StderrBuffer } from '../runner/mcp/stderr-buffer.js';
import { ConnectionClosedError, RequestTimeoutError, StdioMcpConnection } from '../runner/mcp/stdio-connection.js';
import type { ExitStatus } from '../runner/sandbox/types.js';
import { caught } from './support/caught.js';

const FIXTURE = fileURLToPath(new URL('../scenarios/fixtures/mcp-fixture-server/server.mjs', import.meta.url));

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

interface Spawned {
  connection: StdioMcpConnection;
  stderr: StderrBuffer;
  exited: Promise<ExitStatus>;
  probeOptions(overrides?: Partial<ReadinessOptions>): ReadinessOptions;
}

function spawnServer(args: string[], env: Record<string, string> = {}): Spawned {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  // 'close' comes after stderr has ended, so the tail read at the exit is complete.
  const exited = new Promise<ExitStatus>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const stderr = new StderrBuffer(child.stderr);
  const connection = new StdioMcpConnection({ stdin: child.stdin, stdout: child.stdout, exited });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    connection,
    stderr,
    exited,
    probeOptions: (overrides = {}) => ({ timeoutMs: 10_000, stderrTail: () => stderr.tail(5), exited, ...overrides }),
  };
}

function fixture(env: Record<string, string> = {}): Spawned {
  return spawnServer([FIXTURE], env);
}

/**
 * A server scripted in the test, over in-memory streams: for answers the fixture never gives
 * (an error to initialize, paged tool lists). `answer` returns the message to write back, if any.
 */
function scriptedServer(answer: (request: JsonRpcRequest) => JsonRpcMessage | undefined) {
  const toServer = new PassThrough();
  const fromServer = new PassThrough();
  const received: JsonRpcMessage[] = [];
  const decoder = new LineDecoder();
  toServer.on('data', (chunk: Buffer) => {
    for (const line of decoder.push(chunk)) {
      if (line.kind !== 'message') continue;
      received.push(line.message);
      const reply = isRequest(line.message) ? answer(line.message) : undefined;
      if (reply) fromServer.write(encodeMessage(reply));
    }
  });
  let exit!: (status: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((resolve) => (exit = resolve));
  const connection = new StdioMcpConnection({ stdin: toServer, stdout: fromServer });
  return { connection, received, fromServer, exited, exit };
}

describe('probeReadiness against the fixture server', () => {
  it('initializes a healthy server and leaves the connection ready for calls', async () => {
    const { connection, probeOptions } = fixture();
    const readiness = await probeReadiness(connection, probeOptions());
    expect(readiness.protocolVersion).toBe('2025-11-25');
    expect(readiness.serverInfo).toEqual({ name: 'mcp-fixture-server', version: '1.0.0' });
    expect(readiness.capabilities).toEqual({ tools: { listChanged: true }, logging: {}, resources: { subscribe: true } });
    expect(readiness.initializeResult).toMatchObject({ protocolVersion: '2025-11-25', serverInfo: { name: 'mcp-fixture-server' } });
    expect(readiness.tools).toBeUndefined();
    expect(readiness.initializeMs).toBeGreaterThan(0);
    expect(readiness.initializeMs).toBeLessThan(10_000);
    await expect(connection.request('tools/call', { name: 'echo', arguments: { text: 'ready' } })).resolves.toEqual({
      content: [{ type: 'text', text: 'ready' }],
    });
  });

  it('lists the tools when asked', async () => {
    const { connection, probeOptions } = fixture();
    const readiness = await probeReadiness(connection, probeOptions({ toolsList: true }));
    expect(readiness.tools?.map((tool) => tool.name).sort()).toEqual(['crash', 'echo', 'notify', 'progress', 'work']);
  });

  it('FIXTURE_EXIT_AT_START: SERVER_EXITED with the exit code', async () => {
    const { connection, probeOptions } = fixture({ FIXTURE_EXIT_AT_START: '3' });
    const error = await caught(probeReadiness(connection, probeOptions()));
    expect(error.code).toBe('SERVER_EXITED');
    expect(error.message).toMatch(/^the MCP server exited \(exit code 3\) before it was ready\n\(nothing on stderr\)$/);
    expect(error.details).toEqual({ exitCode: 3, signal: null });
  });

  it('a server that explains itself on stderr and exits: the message ends with its last stderr lines', async () => {
    const script = "console.error('loading config'); console.error('fatal: API_KEY is not set'); process.exit(2)";
    const { connection, probeOptions } = spawnServer(['-e', script]);
    const error = await caught(probeReadiness(connection, probeOptions()));
    expect(error.code).toBe('SERVER_EXITED');
    expect(error.message).toMatch(/exit code 2/);
    expect(error.message.endsWith('last lines of stderr:\nloading config\nfatal: API_KEY is not set')).toBe(true);
  });

  it('FIXTURE_NEVER_INITIALIZE: SERVER_INIT_TIMEOUT after the timeout', async () => {
    const { connection, probeOptions } = fixture({ FIXTURE_NEVER_INITIALIZE: '1' });
    const started = performance.now();
    const error = await caught(probeReadiness(connection, probeOptions({ timeoutMs: 300 })));
    expect(error.code).toBe('SERVER_INIT_TIMEOUT');
    expect(error.message).toMatch(/did not answer initialize within 300 ms/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('FIXTURE_GARBAGE_STDOUT: SERVER_PROTOCOL quoting the line', async () => {
    const { connection, probeOptions } = fixture({ FIXTURE_GARBAGE_STDOUT: '1' });
    const error = await caught(probeReadiness(connection, probeOptions()));
    expect(error.code).toBe('SERVER_PROTOCOL');
    expect(error.message).toMatch(/not JSON: "this line is not JSON-RPC"/);
  });

  it('FIXTURE_STDERR_BYTES=1000000: with stderr drained the server still answers', async () => {
    const { connection, stderr, probeOptions } = fixture({ FIXTURE_STDERR_BYTES: '1000000' });
    const readiness = await probeReadiness(connection, probeOptions());
    expect(readiness.serverInfo.name).toBe('mcp-fixture-server');
    expect(stderr.totalBytes).toBe(1_000_000);
    expect(stderr.text()).toHaveLength(256 * 1024);
  });
});

describe('probeReadiness against scripted answers', () => {
  const initializeResult = { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'paged', version: '2' }, instructions: 'be nice' };

  it('accepts the version the server answers and follows nextCursor through every tools/list page', async () => {
    const pages: Record<string, { tools: Array<{ name: string }>; nextCursor?: string }> = {
      start: { tools: [{ name: 'a' }], nextCursor: 'p2' },
      p2: { tools: [{ name: 'b' }, { name: 'c' }], nextCursor: 'p3' },
      p3: { tools: [{ name: 'd' }] },
    };
    const server = scriptedServer((request) => {
      if (request.method === 'initialize') return { jsonrpc: '2.0', id: request.id, result: initializeResult };
      const cursor = (request.params?.cursor as string | undefined) ?? 'start';
      return { jsonrpc: '2.0', id: request.id, result: pages[cursor] };
    });
    const readiness = await probeReadiness(server.connection, { timeoutMs: 5000, toolsList: true, stderrTail: () => '', exited: server.exited });
    expect(readiness.protocolVersion).toBe('2025-06-18');
    expect(readiness.instructions).toBe('be nice');
    expect(readiness.tools?.map((tool) => tool.name)).toEqual(['a', 'b', 'c', 'd']);
    expect(server.received.map((message) => ('method' in message ? message.method : 'response'))).toEqual([
      'initialize',
      'notifications/initialized',
      'tools/list',
      'tools/list',
      'tools/list',
    ]);
    expect(server.received[0]).toMatchObject({ params: { protocolVersion: '2025-11-25', clientInfo: { name: 'mcpwarm' } } });
  });

  it('an error answer to initialize is SERVER_PROTOCOL', async () => {
    const server = scriptedServer((request) => ({ jsonrpc: '2.0', id: request.id, error: { code: -32602, message: 'unsupported protocol version' } }));
    const error = await caught(probeReadiness(server.connection, { timeoutMs: 5000, stderrTail: () => 'bad version\n', exited: server.exited }));
    expect(error.code).toBe('SERVER_PROTOCOL');
    expect(error.message).toBe('the MCP server answered initialize with error -32602: unsupported protocol version\nlast lines of stderr:\nbad version');
  });

  it('an initialize result without serverInfo is SERVER_PROTOCOL', async () => {
    const server = scriptedServer((request) => ({ jsonrpc: '2.0', id: request.id, result: { protocolVersion: '2025-11-25', capabilities: {} } }));
    const error = await caught(probeReadiness(server.connection, { timeoutMs: 5000, stderrTail: () => '', exited: server.exited }));
    expect(error.code).toBe('SERVER_PROTOCOL');
    expect(error.message).toMatch(/no serverInfo/);
  });

  it('a closed stdout waits for the exit status to report SERVER_EXITED', async () => {
    const server = scriptedServer(() => undefined);
    const probe = probeReadiness(server.connection, { timeoutMs: 5000, stderrTail: () => '', exited: server.exited });
    server.fromServer.end();
    setTimeout(() => server.exit({ code: null, signal: 'SIGKILL' }), 50);
    const error = await caught(probe);
    expect(error.code).toBe('SERVER_EXITED');
    expect(error.message).toMatch(/killed by signal SIGKILL/);
  });
});

describe('StdioMcpConnection', () => {
  async function ready(env: Record<string, string> = {}): Promise<Spawned> {
    const spawned = fixture(env);
    await probeReadiness(spawned.connection, spawned.probeOptions());
    return spawned;
  }

  it('rejects a JSON-RPC error answer with its code and message', async () => {
    const { connection } = await ready();
    const error = await connection.request('tools/call', { name: 'nope' }).catch((caughtError: unknown) => caughtError);
    expect(error).toBeInstanceOf(JsonRpcResponseError);
    expect(error).toMatchObject({ code: -32602, message: 'unknown tool: nope' });
  });

  it('answers concurrent requests by id, whatever order they come back in', async () => {
    const { connection } = await ready();
    const slow = connection.request('tools/call', { name: 'work', arguments: { latencyMs: 200, payloadBytes: 3 } });
    const fast = connection.request('tools/call', { name: 'echo', arguments: { text: 'fast' } });
    expect(await fast).toEqual({ content: [{ type: 'text', text: 'fast' }] });
    expect(await slow).toEqual({ content: [{ type: 'text', text: 'xxx' }] });
  });

  it('gives server notifications and answers to forwarded messages to the message listeners', async () => {
    const { connection } = await ready();
    const seen: JsonRpcMessage[] = [];
    connection.on('message', (message) => seen.push(message));
    const forwardedId = connection.reserveId();
    connection.send({ jsonrpc: '2.0', id: forwardedId, method: 'ping' });
    await connection.request('tools/call', { name: 'notify', arguments: { kind: 'tools_list_changed' } });
    // The fixture handles requests concurrently, so the two may come in either order.
    expect(seen).toHaveLength(2);
    expect(seen).toContainEqual({ jsonrpc: '2.0', id: forwardedId, result: {} });
    expect(seen).toContainEqual({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
  });

  it('a timeout rejects and cancels the request on the server', async () => {
    const server = scriptedServer(() => undefined);
    const error = await server.connection.request('tools/call', { name: 'slow' }, { timeoutMs: 50 }).catch((caughtError: unknown) => caughtError);
    expect(error).toBeInstanceOf(RequestTimeoutError);
    await new Promise((resolve) => setImmediate(resolve));
    expect(server.received).toEqual([
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'slow' } },
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, reason: 'no answer within 50 ms' } },
    ]);
  });

  it('an abort rejects with the reason and cancels the request on the server', async () => {
    const { connection } = await ready();
    const controller = new AbortController();
    const call = connection.request('tools/call', { name: 'work', arguments: { latencyMs: 5000 } }, { signal: controller.signal });
    controller.abort(new Error('user pressed stop'));
    await expect(call).rejects.toThrow('user pressed stop');
    // The fixture drops the cancelled call; the connection still works.
    await expect(connection.request('ping')).resolves.toEqual({});
  });

  it('a crash rejects every pending request with the exit status', async () => {
    const { connection } = await ready();
    const pending = connection.request('tools/call', { name: 'work', arguments: { latencyMs: 5000 } });
    const crash = connection.request('tools/call', { name: 'crash', arguments: { code: 7 } });
    for (const request of [pending, crash]) {
      const error = await request.catch((caughtError: unknown) => caughtError);
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect((error as Error).message).toMatch(/^the MCP server (exited \(exit code 7\)|closed its stdout)$/);
    }
    expect(connection.closed).toBeInstanceOf(ConnectionClosedError);
    expect(() => connection.notify('notifications/initialized')).toThrow(ConnectionClosedError);
    await expect(connection.request('ping')).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('close() rejects pending requests and ends stdin, which stops the server', async () => {
    const { connection, exited } = await ready();
    const pending = connection.request('tools/call', { name: 'work', arguments: { latencyMs: 5000 } });
    connection.close();
    await expect(pending).rejects.toThrow('the connection to the MCP server was closed');
    await expect(exited).resolves.toEqual({ code: 0, signal: null });
  });

  it('reports garbage lines to protocolError listeners and keeps reading', async () => {
    const server = scriptedServer((request) => ({ jsonrpc: '2.0', id: request.id, result: { ok: true } }));
    const garbage: string[] = [];
    server.connection.on('protocolError', (line) => garbage.push(`${line.reason}: ${line.lineStart}`));
    server.fromServer.write('debug: starting up\n');
    await expect(server.connection.request('ping')).resolves.toEqual({ ok: true });
    expect(garbage).toEqual(['not JSON: debug: starting up']);
  });
});

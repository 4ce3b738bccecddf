/**
 * The stdio proxy with each strategy in front of the fixture MCP server, driven by the official
 * SDK client (several concurrent clients, each with its own session) and by raw HTTP. The
 * fixture's backends record everything they read, so the tests check what really reached which
 * server process: rewritten ids, notifications/cancelled, initialize counts, affinity.
 */
import { McpError, LoggingMessageNotificationSchema, ResourceUpdatedNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { isProcessAlive } from '../runner/exec.js';
import type { StrategyName } from '../runner/proxy/strategy.js';
import { descendantProcesses } from './support/agent-fixture.js';
import {
  callTool,
  connectClient,
  messagesOf,
  methodOf,
  post,
  rawSession,
  startFixtureProxy,
  textOf,
  until,
  type FixtureProxy,
  type Message,
  type Recorded,
} from './support/proxy-harness.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  // Every backend of the proxies this test started is gone.
  expect(await descendantProcesses()).toEqual([]);
});

async function proxyFor(strategy: StrategyName, options: Parameters<typeof startFixtureProxy>[1] = {}, env: Record<string, string> = {}): Promise<FixtureProxy> {
  const fixture = await startFixtureProxy(strategy, { ...(strategy === 'p-rard' && options.backends === undefined ? { backends: 2 } : {}), ...options }, env);
  cleanups.push(() => fixture.close());
  return fixture;
}

async function client(fixture: FixtureProxy, capabilities: Record<string, unknown> = {}) {
  const connected = await connectClient(fixture.url, capabilities);
  cleanups.push(() => connected.close());
  return connected;
}

const isCall = (text: string) => (entry: Recorded) => methodOf(entry) === 'tools/call' && entry.message.params?.arguments?.text === text;

describe.each(['s-rard', 'p-rard', 'per-session'] as const)('%s', (strategy) => {
  it('serves several concurrent clients, each with its own session and its own answers', async () => {
    const fixture = await proxyFor(strategy);
    const clients = await Promise.all([1, 2, 3].map(() => client(fixture)));
    const calls = clients.flatMap(({ client: c }, n) => [1, 2, 3].map((k) => c.callTool({ name: 'echo', arguments: { text: `client ${n} call ${k}` } })));
    expect((await Promise.all(calls)).map(textOf)).toEqual(clients.flatMap((_c, n) => [1, 2, 3].map((k) => `client ${n} call ${k}`)));
    for (const { client: c } of clients) expect((await c.listTools()).tools.map((tool) => tool.name).sort()).toEqual(['crash', 'echo', 'notify', 'progress', 'work']);

    const initializes = (await fixture.recorded()).filter((entry) => methodOf(entry) === 'initialize');
    // Shared backends are initialized once each; a backend per session gets its client's own clientInfo.
    if (strategy === 's-rard') expect(initializes).toHaveLength(1);
    if (strategy === 'p-rard') expect(new Set(initializes.map((entry) => entry.pid)).size).toBe(2);
    if (strategy === 'p-rard') expect(initializes).toHaveLength(2);
    if (strategy === 'per-session') {
      expect(initializes).toHaveLength(3);
      expect(initializes.map((entry) => entry.message.params.clientInfo.name)).toEqual(['proxy-test', 'proxy-test', 'proxy-test']);
    }
  });

  it('streams progress notifications of a call to its own client', async () => {
    const fixture = await proxyFor(strategy);
    const [first, second] = await Promise.all([client(fixture), client(fixture)]);
    const progress: number[][] = [[], []];
    const results = await Promise.all(
      [first!, second!].map(({ client: c }, n) =>
        c.callTool({ name: 'progress', arguments: { steps: 3, intervalMs: 100 } }, undefined, { onprogress: (update) => progress[n]!.push(update.progress) }),
      ),
    );
    expect(results.map(textOf)).toEqual(['completed 3 steps', 'completed 3 steps']);
    // The SDK runs notification handlers a microtask after response handlers: the last one may lose the race.
    for (const updates of progress) {
      expect(updates.length).toBeGreaterThanOrEqual(2);
      expect(updates).toEqual([1, 2, 3].slice(0, updates.length));
    }
  });

  it('gives list_changed to every session sharing the backend and a log message only to its caller', async () => {
    const fixture = await proxyFor(strategy);
    const [caller, other] = await Promise.all([client(fixture), client(fixture)]);
    const heard = { callerChanged: 0, otherChanged: 0, callerLogs: 0, otherLogs: 0 };
    caller!.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void (heard.callerChanged += 1));
    other!.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void (heard.otherChanged += 1));
    caller!.client.setNotificationHandler(LoggingMessageNotificationSchema, () => void (heard.callerLogs += 1));
    other!.client.setNotificationHandler(LoggingMessageNotificationSchema, () => void (heard.otherLogs += 1));

    await caller!.client.callTool({ name: 'notify', arguments: { kind: 'tools_list_changed' } });
    await until(() => heard.callerChanged === 1, 'the caller to hear list_changed');
    await caller!.client.callTool({ name: 'notify', arguments: { kind: 'log' } });
    await until(() => heard.callerLogs === 1, 'the caller to get its log message');
    await new Promise((resolve) => setTimeout(resolve, 300));
    // With a backend of its own, the other session's server did not change.
    expect(heard.otherChanged).toBe(strategy === 'per-session' ? 0 : 1);
    expect(heard.otherLogs).toBe(0);
    expect(heard.callerChanged).toBe(1);
  });

  it('sends notifications/cancelled to the backend when a client disconnects mid-request', async () => {
    const fixture = await proxyFor(strategy);
    const session = await rawSession(fixture.url);
    const controller = new AbortController();
    const call = post(fixture.url, callTool(3, 'work', { latencyMs: 10_000 }), { 'mcp-session-id': session, accept: 'application/json' }, controller.signal);
    const forwarded = await fixture.waitForRecorded((entry) => methodOf(entry) === 'tools/call');
    controller.abort();
    await expect(call).rejects.toThrow();
    const cancelled = await fixture.waitForRecorded((entry) => methodOf(entry) === 'notifications/cancelled');
    expect(cancelled.pid).toBe(forwarded.pid);
    expect(cancelled.message.params).toEqual({ requestId: forwarded.message.id, reason: 'the HTTP client disconnected' });
  });

  it('keeps id 1 of two clients at once apart, and 1 apart from "1"', async () => {
    const fixture = await proxyFor(strategy);
    const [a, b] = await Promise.all([rawSession(fixture.url, 'a'), rawSession(fixture.url, 'b')]);
    const [fromA, fromB, textId] = await Promise.all([
      post(fixture.url, callTool(1, 'work', { latencyMs: 100, payloadBytes: 1 }), { 'mcp-session-id': a }),
      post(fixture.url, callTool(1, 'work', { latencyMs: 50, payloadBytes: 2 }), { 'mcp-session-id': b, accept: 'application/json' }),
      post(fixture.url, callTool('1', 'work', { latencyMs: 10, payloadBytes: 3 }), { 'mcp-session-id': a }),
    ]);
    expect(await messagesOf(fromA)).toEqual([{ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'x' }] } }]);
    expect(await messagesOf(fromB)).toEqual([{ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'xx' }] } }]);
    expect(await messagesOf(textId)).toEqual([{ jsonrpc: '2.0', id: '1', result: { content: [{ type: 'text', text: 'xxx' }] } }]);
  });

  it('answers the requests in flight on a crashed backend with an error, then serves from a restarted one', async () => {
    const lines: string[] = [];
    const fixture = await proxyFor(strategy, { log: (line) => lines.push(line) });
    const { client: c } = await client(fixture);
    await c.callTool({ name: 'echo', arguments: { text: 'before' } });
    const error = await c.callTool({ name: 'crash', arguments: { code: 4 } }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).code).toBe(-32000);
    expect((error as Error).message).toMatch(/the MCP server (exited \(exit code 4\)|closed its stdout); the request was lost/);
    expect(textOf(await c.callTool({ name: 'echo', arguments: { text: 'after' } }))).toBe('after');
    const before = await fixture.waitForRecorded(isCall('before'));
    const after = await fixture.waitForRecorded(isCall('after'));
    const crashed = await fixture.waitForRecorded((entry) => methodOf(entry) === 'tools/call' && entry.message.params.name === 'crash');
    expect(crashed.pid).not.toBe(after.pid);
    if (strategy !== 'p-rard') expect(before.pid).toBe(crashed.pid);
    expect(lines.some((line) => /died .*starting a replacement/.test(line))).toBe(true);
    expect(fixture.proxy.metrics.snapshot().backendCrashes).toBe(1);
  });
});

describe('s-rard', () => {
  it('attaches one request at a time to its backend, queueing the others', async () => {
    const fixture = await proxyFor('s-rard');
    const sessions = await Promise.all([rawSession(fixture.url), rawSession(fixture.url), rawSession(fixture.url)]);
    let maxInFlight = 0;
    const sampler = setInterval(() => {
      maxInFlight = Math.max(maxInFlight, fixture.proxy.stats().inFlight);
    }, 5);
    const call = (n: number, latencyMs: number) =>
      post(fixture.url, callTool(n, 'work', { latencyMs }), { 'mcp-session-id': sessions[n]! }).then(messagesOf);
    // The first request holds the backend long enough for the other two to be seen queued on a loaded machine.
    const first = call(0, 3000);
    await fixture.waitForRecorded((entry) => methodOf(entry) === 'tools/call');
    const others = [call(1, 150), call(2, 150)];
    await until(() => fixture.proxy.stats().queueDepth === 2, 'two requests queued behind the attached one');
    const answers = await Promise.all([first, ...others]);
    clearInterval(sampler);
    expect(answers.map((messages) => messages.at(-1)?.result)).toEqual([0, 1, 2].map(() => ({ content: [{ type: 'text', text: '' }] })));
    expect(maxInFlight).toBe(1);
  });

  it('refuses a request with 503 and Retry-After when the queue is full', async () => {
    const fixture = await proxyFor('s-rard', { maxQueue: 1 });
    const session = await rawSession(fixture.url);
    const headers = { 'mcp-session-id': session, accept: 'application/json' };
    // Long enough that the next request still finds it attached on a loaded machine.
    const attached = post(fixture.url, callTool(1, 'work', { latencyMs: 3000 }), headers);
    await fixture.waitForRecorded((entry) => methodOf(entry) === 'tools/call');
    const queued = post(fixture.url, callTool(2, 'echo', { text: 'queued' }), headers);
    await until(() => fixture.proxy.stats().queueDepth === 1, 'the second request to queue');
    const refused = await post(fixture.url, callTool(3, 'echo', { text: 'refused' }), headers);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toMatchObject({ id: 3, error: { data: { code: 'PROXY_SATURATED' } } });
    expect(((await (await attached).json()) as Message).result).toBeDefined();
    expect(textOf(((await (await queued).json()) as Message).result)).toBe('queued');
    expect(fixture.proxy.metrics.snapshot().rejected).toBe(1);
  });

  it('gives a request that outlives the request timeout an error and cancels it on the backend', async () => {
    const fixture = await proxyFor('s-rard', { requestTimeoutMs: 300 });
    const session = await rawSession(fixture.url);
    const answer = await post(fixture.url, callTool(5, 'work', { latencyMs: 5000 }), { 'mcp-session-id': session });
    expect(await messagesOf(answer)).toEqual([{ jsonrpc: '2.0', id: 5, error: { code: -32000, message: 'the request was cancelled: no answer within 300 ms' } }]);
    const forwarded = await fixture.waitForRecorded((entry) => methodOf(entry) === 'tools/call');
    const cancelled = await fixture.waitForRecorded((entry) => methodOf(entry) === 'notifications/cancelled');
    expect(cancelled.message.params.requestId).toBe(forwarded.message.id);
  });

  it('delivers resources/updated to the subscribed sessions only, keeping the subscription while one holds it', async () => {
    const fixture = await proxyFor('s-rard');
    const [first, second, bystander] = await Promise.all([client(fixture), client(fixture), client(fixture)]);
    const updates = [0, 0, 0];
    [first!, second!, bystander!].forEach(({ client: c }, n) => c.setNotificationHandler(ResourceUpdatedNotificationSchema, () => void (updates[n]! += 1)));
    await first!.client.subscribeResource({ uri: 'fixture://config' });
    await second!.client.subscribeResource({ uri: 'fixture://config' });
    await first!.client.unsubscribeResource({ uri: 'fixture://config' });
    // The second session still holds it: the server was not told to unsubscribe.
    expect((await fixture.recorded()).filter((entry) => methodOf(entry) === 'resources/unsubscribe')).toEqual([]);
    await bystander!.client.callTool({ name: 'notify', arguments: { kind: 'resource_updated' } });
    await until(() => updates[1] === 1, 'the subscriber to hear the update');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(updates).toEqual([0, 1, 0]);
    await second!.client.unsubscribeResource({ uri: 'fixture://config' });
    await fixture.waitForRecorded((entry) => methodOf(entry) === 'resources/unsubscribe');
  });

  it('drains the backend stderr, which would otherwise stall it', async () => {
    const fixture = await proxyFor('s-rard', {}, { FIXTURE_STDERR_BYTES: String(512 * 1024) });
    const { client: c } = await client(fixture);
    expect(textOf(await c.callTool({ name: 'echo', arguments: { text: 'still talking' } }))).toBe('still talking');
  });

  it('refuses bad requests with JSON-RPC error bodies', async () => {
    const fixture = await proxyFor('s-rard', { maxBodyBytes: 4096 });
    const session = await rawSession(fixture.url);
    const missing = await post(fixture.url, callTool(1, 'echo', { text: 'x' }));
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: { message: expect.stringMatching(/Mcp-Session-Id/) } });
    const unknown = await post(fixture.url, callTool(1, 'echo', { text: 'x' }), { 'mcp-session-id': 'no-such-session' });
    expect(unknown.status).toBe(404);
    const malformed = await post(fixture.url, '{"jsonrpc": "2.0", "id": 1,', { 'mcp-session-id': session });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ id: null, error: { code: -32700 } });
    const oversized = await post(fixture.url, callTool(2, 'echo', { text: 'x'.repeat(8192) }), { 'mcp-session-id': session });
    expect(oversized.status).toBe(413);
    expect((await fetch(new URL('/nothing', fixture.url))).status).toBe(404);
    const health = (await (await fetch(new URL('/health', fixture.url))).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ status: 'ok', strategy: 's-rard', liveBackends: 1, sessions: 1 });
    const metrics = await (await fetch(new URL('/metrics', fixture.url))).text();
    expect(metrics).toMatch(/mcp_proxy_live_backends\{strategy="s-rard"\} 1/);
    expect(metrics).toMatch(/mcp_proxy_queue_depth\{strategy="s-rard"\} 0/);
    // None of it reached the server.
    expect((await fixture.recorded()).map(methodOf)).toEqual(['initialize', 'notifications/initialized']);
  });
});

describe('p-rard', () => {
  it('spreads sessions over the pool, and keeps a session that set its log level on that backend', async () => {
    const fixture = await proxyFor('p-rard', { backends: 2 });
    const [pinned, roaming] = await Promise.all([client(fixture), client(fixture)]);
    await pinned!.client.setLoggingLevel('debug');
    const setLevel = await fixture.waitForRecorded((entry) => methodOf(entry) === 'logging/setLevel');
    const calls = [];
    for (let round = 0; round < 6; round += 1) {
      calls.push(pinned!.client.callTool({ name: 'work', arguments: { latencyMs: 5, payloadBytes: round } }));
      calls.push(roaming!.client.callTool({ name: 'work', arguments: { latencyMs: 40, payloadBytes: 100 + round } }));
      calls.push(roaming!.client.callTool({ name: 'work', arguments: { latencyMs: 40, payloadBytes: 200 + round } }));
    }
    await Promise.all(calls);
    const works = (await fixture.recorded()).filter((entry) => entry.message.params?.name === 'work');
    const pinnedPids = works.filter((entry) => entry.message.params.arguments.payloadBytes < 100).map((entry) => entry.pid);
    const roamingPids = works.filter((entry) => entry.message.params.arguments.payloadBytes >= 100).map((entry) => entry.pid);
    expect(pinnedPids).toHaveLength(6);
    expect(roamingPids).toHaveLength(12);
    expect(new Set(pinnedPids)).toEqual(new Set([setLevel.pid]));
    expect(new Set(roamingPids).size).toBe(2);
  });
});

describe('per-session', () => {
  it('gives each session a backend of its own and passes ids through unchanged', async () => {
    const fixture = await proxyFor('per-session');
    const sessions = await Promise.all([rawSession(fixture.url), rawSession(fixture.url), rawSession(fixture.url)]);
    await Promise.all(sessions.map((session, n) => post(fixture.url, callTool(`mine-${n}`, 'echo', { text: `session ${n}` }), { 'mcp-session-id': session }).then(messagesOf)));
    const calls = (await fixture.recorded()).filter((entry) => methodOf(entry) === 'tools/call');
    expect(calls.map((entry) => entry.message.id).sort()).toEqual(['mine-0', 'mine-1', 'mine-2']);
    expect(new Set(calls.map((entry) => entry.pid)).size).toBe(3);
    expect(fixture.proxy.stats()).toMatchObject({ liveBackends: 3, sessions: 3 });
  });

  it('stops the backend of a session on DELETE; the session then gets 404', async () => {
    const fixture = await proxyFor('per-session');
    const session = await rawSession(fixture.url);
    const { pid } = await fixture.waitForRecorded((entry) => methodOf(entry) === 'initialize');
    expect(isProcessAlive(pid)).toBe(true);
    expect((await fetch(fixture.url, { method: 'DELETE', headers: { 'mcp-session-id': session } })).status).toBe(204);
    expect(isProcessAlive(pid)).toBe(false);
    const after = await post(fixture.url, callTool(1, 'echo', { text: 'x' }), { 'mcp-session-id': session });
    expect(after.status).toBe(404);
    expect(fixture.proxy.stats().backends).toBe(0);
  });

  it('stops the backend of a session that idles out, even with its GET stream left open', async () => {
    const fixture = await proxyFor('per-session', { idleTimeoutMs: 300 });
    const session = await rawSession(fixture.url);
    const { pid } = await fixture.waitForRecorded((entry) => methodOf(entry) === 'initialize');
    const stream = await fetch(fixture.url, { headers: { 'mcp-session-id': session, accept: 'text/event-stream' } });
    expect(stream.status).toBe(200);
    await until(() => !isProcessAlive(pid), 'the idle session backend to stop', 5000);
    // The stream was ended with the session.
    expect(await stream.text()).toBe('');
    expect((await post(fixture.url, callTool(1, 'echo', { text: 'x' }), { 'mcp-session-id': session })).status).toBe(404);
  });

  it('caps live backends at --max-sessions with 503 and Retry-After', async () => {
    const fixture = await proxyFor('per-session', { maxSessions: 2 });
    await rawSession(fixture.url);
    await rawSession(fixture.url);
    const refused = await post(fixture.url, { jsonrpc: '2.0', id: 9, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await refused.json()).toMatchObject({ id: 9, error: { data: { code: 'PROXY_SATURATED' } } });
    expect(fixture.proxy.stats().backends).toBe(2);
  });
});

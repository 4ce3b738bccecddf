/**
 * The proxy's MCP 2026-07-28 front (stateless requests carrying `_meta`, server/discover,
 * subscriptions/listen), which no SDK speaks yet: driven with raw fetch, in front of the fixture
 * server, whose backends record what they read.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isProcessAlive } from '../runner/exec.js';
import { descendantProcesses } from './support/agent-fixture.js';
import { messagesOf, methodOf, sseMessages, startFixtureProxy, until, type FixtureProxy, type Message } from './support/proxy-harness.js';

const V = '2026-07-28';
const META = {
  'io.modelcontextprotocol/protocolVersion': V,
  'io.modelcontextprotocol/clientCapabilities': { sampling: {} },
  'io.modelcontextprotocol/clientInfo': { name: 'raw-2026', version: '1' },
};

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  expect(await descendantProcesses()).toEqual([]);
});

async function proxyFor(...args: Parameters<typeof startFixtureProxy>): Promise<FixtureProxy> {
  const fixture = await startFixtureProxy(...args);
  cleanups.push(() => fixture.close());
  return fixture;
}

function request(id: number | string, method: string, params: Record<string, unknown> = {}): Message {
  return { jsonrpc: '2.0', id, method, params: { ...params, _meta: { ...META, ...(params._meta as object | undefined) } } };
}

/** POSTs a 2026-07-28 message with the headers its body calls for, unless `headers` says otherwise. */
function send(url: URL, message: Message, headers: Record<string, string | undefined> = {}, signal?: AbortSignal): Promise<Response> {
  const name = message.params?.name ?? message.params?.uri;
  const all: Record<string, string | undefined> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': V,
    'mcp-method': message.method,
    ...(typeof name === 'string' ? { 'mcp-name': name } : {}),
    ...headers,
  };
  return fetch(url, {
    method: 'POST',
    headers: Object.fromEntries(Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined)),
    body: JSON.stringify(message),
    ...(signal ? { signal } : {}),
  });
}

const call = (id: number | string, name: string, args: Record<string, unknown>, meta: Record<string, unknown> = {}) =>
  request(id, 'tools/call', { name, arguments: args, _meta: meta });

describe('MCP 2026-07-28 through the proxy', () => {
  it('answers server/discover from the cached initialize result, without the server', async () => {
    const fixture = await proxyFor('s-rard');
    const answer = await send(fixture.url, request('d-1', 'server/discover'));
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({
      jsonrpc: '2.0',
      id: 'd-1',
      result: {
        resultType: 'complete',
        supportedVersions: ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'],
        capabilities: { tools: { listChanged: true }, logging: {}, resources: { subscribe: true } },
        serverInfo: { name: 'mcp-fixture-server', version: '1.0.0' },
      },
    });
    expect((await fixture.recorded()).map(methodOf)).toEqual(['initialize', 'notifications/initialized']);
  });

  it('forwards a stateless request without the 2026-07-28 _meta, and answers it with a resultType', async () => {
    const fixture = await proxyFor('s-rard');
    const plain = await send(fixture.url, call(1, 'echo', { text: 'stateless' }), { accept: 'application/json' });
    expect(await plain.json()).toEqual({ jsonrpc: '2.0', id: 1, result: { resultType: 'complete', content: [{ type: 'text', text: 'stateless' }] } });
    const forwarded = await fixture.waitForRecorded((entry) => methodOf(entry) === 'tools/call');
    expect(forwarded.message.params).toEqual({ name: 'echo', arguments: { text: 'stateless' } });

    const streamed = await send(fixture.url, call('p', 'progress', { steps: 2, intervalMs: 20 }, { progressToken: 'mine' }));
    const messages = await messagesOf(streamed);
    expect(messages.map((message) => message.params?.progressToken ?? message.id)).toEqual(['mine', 'mine', 'p']);
    expect(messages.at(-1)).toMatchObject({ id: 'p', result: { resultType: 'complete' } });
  });

  it('refuses headers that do not match the body, removed methods, and GET or DELETE', async () => {
    const fixture = await proxyFor('s-rard');
    const cases: Array<[Response, number, number]> = [
      [await send(fixture.url, call(1, 'echo', { text: 'x' }), { 'mcp-protocol-version': undefined }), 400, -32001],
      [await send(fixture.url, call(2, 'echo', { text: 'x' }), { 'mcp-method': 'tools/list' }), 400, -32001],
      [await send(fixture.url, call(3, 'echo', { text: 'x' }), { 'mcp-name': 'work' }), 400, -32001],
      [await send(fixture.url, { jsonrpc: '2.0', id: 4, method: 'tools/list', params: {} }), 400, -32001],
      [await send(fixture.url, request(5, 'tools/list', { _meta: { 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } }), { 'mcp-protocol-version': '2099-01-01' }), 400, -32600],
      [await send(fixture.url, request(6, 'ping')), 200, -32601],
      [await send(fixture.url, request(7, 'logging/setLevel', { level: 'debug' })), 200, -32601],
    ];
    for (const [response, status, code] of cases) {
      expect(response.status).toBe(status);
      expect(((await response.json()) as Message).error.code).toBe(code);
    }
    for (const method of ['GET', 'DELETE']) {
      const refused = await fetch(fixture.url, { method, headers: { 'mcp-protocol-version': V, accept: 'text/event-stream' } });
      expect(refused.status).toBe(405);
      expect(refused.headers.get('allow')).toBe('POST');
    }
    expect((await fixture.recorded()).map(methodOf)).toEqual(['initialize', 'notifications/initialized']);
  });

  it('treats a closed response stream as cancellation', async () => {
    const fixture = await proxyFor('p-rard', { backends: 2 });
    const controller = new AbortController();
    const streamed = await send(fixture.url, call(8, 'work', { latencyMs: 10_000 }), { accept: 'text/event-stream' }, controller.signal);
    expect(streamed.headers.get('content-type')).toBe('text/event-stream');
    const forwarded = await fixture.waitForRecorded((entry) => methodOf(entry) === 'tools/call');
    controller.abort();
    const cancelled = await fixture.waitForRecorded((entry) => methodOf(entry) === 'notifications/cancelled');
    expect(cancelled).toEqual({ pid: forwarded.pid, message: { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: forwarded.message.id, reason: 'the HTTP client disconnected' } } });
  });

  it('opens a listen stream: acknowledged first, then the change notifications it asked for, stamped with its id', async () => {
    const fixture = await proxyFor('s-rard');
    const controller = new AbortController();
    const listen = await send(
      fixture.url,
      request('listen-1', 'subscriptions/listen', { notifications: { toolsListChanged: true, promptsListChanged: true, resourceSubscriptions: ['fixture://config'] } }),
      { accept: 'text/event-stream' },
      controller.signal,
    );
    expect(listen.status).toBe(200);
    const events = sseMessages(listen);
    const stamp = { 'io.modelcontextprotocol/subscriptionId': 'listen-1' };
    // The fixture has no prompts: that part of the filter is left out of the acknowledgement.
    expect((await events.next()).value).toEqual({
      jsonrpc: '2.0',
      method: 'notifications/subscriptions/acknowledged',
      params: { notifications: { toolsListChanged: true, resourceSubscriptions: ['fixture://config'] }, _meta: stamp },
    });
    await fixture.waitForRecorded((entry) => methodOf(entry) === 'resources/subscribe' && entry.message.params.uri === 'fixture://config');

    await send(fixture.url, call(10, 'notify', { kind: 'log' })).then(messagesOf);
    await send(fixture.url, call(11, 'notify', { kind: 'tools_list_changed' })).then(messagesOf);
    expect((await events.next()).value).toEqual({ jsonrpc: '2.0', method: 'notifications/tools/list_changed', params: { _meta: stamp } });
    await send(fixture.url, call(12, 'notify', { kind: 'resource_updated' })).then(messagesOf);
    expect((await events.next()).value).toEqual({ jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: 'fixture://config', _meta: stamp } });

    controller.abort();
    await fixture.waitForRecorded((entry) => methodOf(entry) === 'resources/unsubscribe' && entry.message.params.uri === 'fixture://config');
    await until(() => fixture.proxy.stats().listeners === 0, 'the listen stream to be forgotten');
  });

  it('per-session: gives a stateless request a backend of its own, initialized with its _meta, stopped once answered', async () => {
    const fixture = await proxyFor('per-session');
    const answer = await send(fixture.url, call('own-1', 'echo', { text: 'alone' }), { accept: 'application/json' });
    expect(await answer.json()).toMatchObject({ id: 'own-1', result: { resultType: 'complete', content: [{ text: 'alone' }] } });
    const initialize = await fixture.waitForRecorded((entry) => methodOf(entry) === 'initialize');
    expect(initialize.message.params).toMatchObject({ clientInfo: { name: 'raw-2026', version: '1' }, capabilities: { sampling: {} } });
    const forwarded = await fixture.waitForRecorded((entry) => methodOf(entry) === 'tools/call');
    expect(forwarded).toMatchObject({ pid: initialize.pid, message: { id: 'own-1' } });
    await until(() => !isProcessAlive(initialize.pid), 'the request backend to stop');
    expect(fixture.proxy.stats().backends).toBe(0);
  });

  it('per-session with a key header: requests with the same key share a backend until it idles out', async () => {
    const fixture = await proxyFor('per-session', { sessionKeyHeader: 'X-Client', idleTimeoutMs: 400 });
    const headers = { accept: 'application/json', 'x-client': 'agent-7' };
    const answers = await Promise.all([1, 2, 3].map((n) => send(fixture.url, call(1, 'echo', { text: `keyed ${n}` }), headers).then((response) => response.json())));
    expect(answers.map((answer) => (answer as Message).result.content[0].text)).toEqual(['keyed 1', 'keyed 2', 'keyed 3']);
    await send(fixture.url, call(1, 'echo', { text: 'other key' }), { ...headers, 'x-client': 'agent-8' }).then((response) => response.json());
    const recorded = await fixture.recorded();
    const initializes = recorded.filter((entry) => methodOf(entry) === 'initialize');
    expect(initializes).toHaveLength(2);
    const keyedPids = recorded.filter((entry) => String(entry.message.params?.arguments?.text).startsWith('keyed')).map((entry) => entry.pid);
    expect(new Set(keyedPids).size).toBe(1);
    await until(() => initializes.every((entry) => !isProcessAlive(entry.pid)), 'the keyed backends to idle out');
  });
});

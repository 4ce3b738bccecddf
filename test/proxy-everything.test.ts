/**
 * The proxy in front of @modelcontextprotocol/server-everything, the MCP reference server, with
 * the official SDK client: tools, progress and server notifications under every strategy; and
 * what only a backend per session can do: the client's own capabilities reach the server, which
 * then sends it requests (sampling, roots/list).
 */
import { CreateMessageRequestSchema, ListRootsRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startProxy } from '../runner/proxy/proxy.js';
import type { StrategyName } from '../runner/proxy/strategy.js';
import { descendantProcesses } from './support/agent-fixture.js';
import { everythingCommand } from './support/proxy-everything.js';
import { connectClient, textOf, until } from './support/proxy-harness.js';

let server: { command: string; args: string[] };
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  server = await everythingCommand();
}, 300_000);

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  expect(await descendantProcesses()).toEqual([]);
});

async function proxyUrl(strategy: StrategyName): Promise<URL> {
  const proxy = await startProxy({ strategy, backend: { kind: 'stdio', ...server }, ...(strategy === 'p-rard' ? { backends: 2 } : {}) });
  cleanups.push(() => proxy.close());
  return new URL(`${proxy.url}/mcp`);
}

async function client(url: URL, capabilities: Record<string, unknown> = {}) {
  const connected = await connectClient(url, capabilities);
  cleanups.push(() => connected.close());
  return connected.client;
}

describe.each(['s-rard', 'p-rard', 'per-session'] as const)('server-everything behind %s', (strategy) => {
  it('lists and calls tools, streams progress and delivers a server notification', async () => {
    const url = await proxyUrl(strategy);
    const [first, second] = await Promise.all([client(url), client(url)]);
    const names = (await first!.listTools()).tools.map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(['echo', 'get-sum', 'trigger-long-running-operation', 'toggle-simulated-logging']));
    const [echo, sum] = await Promise.all([
      first!.callTool({ name: 'echo', arguments: { message: 'through the proxy' } }),
      second!.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } }),
    ]);
    expect(textOf(echo)).toBe('Echo: through the proxy');
    expect(textOf(sum)).toBe('The sum of 2 and 3 is 5.');

    const progress: number[] = [];
    const done = await second!.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, {
      onprogress: (update) => progress.push(update.progress),
    });
    expect(textOf(done)).toMatch(/Long running operation completed/);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress).toEqual([1, 2, 3].slice(0, progress.length));

    const logs: unknown[] = [];
    first!.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => void logs.push(notification.params));
    await first!.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    await until(() => logs.length > 0, 'a log message from the server');
    await first!.callTool({ name: 'toggle-simulated-logging', arguments: {} });
  });
});

describe('server-everything with a backend per session', () => {
  it("declares the client's capabilities to its own server, which then asks it for roots and samples", async () => {
    const url = await proxyUrl('per-session');
    const asked = { roots: 0, sampling: 0 };
    const shared = await client(await proxyUrl('s-rard'), { sampling: {}, roots: {} });
    // A shared backend was initialized by the proxy itself: the tools that need a sampling client are not there.
    expect((await shared.listTools()).tools.map((tool) => tool.name)).not.toContain('trigger-sampling-request');

    const own = await client(url, { sampling: {}, roots: { listChanged: true } });
    own.setRequestHandler(ListRootsRequestSchema, async () => {
      asked.roots += 1;
      return { roots: [{ uri: 'file:///work', name: 'work' }] };
    });
    own.setRequestHandler(CreateMessageRequestSchema, async () => {
      asked.sampling += 1;
      return { model: 'test-model', role: 'assistant', content: { type: 'text', text: 'sampled by the client' } };
    });
    expect((await own.listTools()).tools.map((tool) => tool.name)).toContain('trigger-sampling-request');
    const result = await own.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'say hi', maxTokens: 10 } });
    expect(textOf(result)).toMatch(/sampled by the client/);
    expect(asked.sampling).toBe(1);
    await until(() => asked.roots > 0, 'the server to ask for roots');
  });
});

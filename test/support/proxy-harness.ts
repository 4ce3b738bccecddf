/**
 * The proxy in front of the fixture MCP server, for proxy tests: every backend records what it
 * receives (FIXTURE_RECORD), so tests see what the proxy really sent to which server process.
 * The raw Streamable HTTP helpers of mcp-http.ts come with it.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startProxy, type RunningProxy } from '../../runner/proxy/proxy.js';
import type { ProxyOptions } from '../../runner/proxy/options.js';
import type { StrategyName } from '../../runner/proxy/strategy.js';
import type { Message } from './mcp-http.js';

export { ACCEPT_BOTH, messagesOf, post, rawSession, sseMessages, textOf, type Message } from './mcp-http.js';

export const FIXTURE_SERVER = fileURLToPath(new URL('../../scenarios/fixtures/mcp-fixture-server/server.mjs', import.meta.url));
export const TINY_SERVER = fileURLToPath(new URL('../../scenarios/fixtures/mcp-fixture-server/tiny-server.sh', import.meta.url));

/** One message a backend read, and which process read it. */
export interface Recorded {
  pid: number;
  message: Message;
}

export interface FixtureProxy {
  proxy: RunningProxy;
  /** The MCP endpoint. */
  url: URL;
  /** Everything the backends have read so far, in order. */
  recorded(): Promise<Recorded[]>;
  /** Waits until a backend has read a matching message. */
  waitForRecorded(predicate: (entry: Recorded) => boolean, timeoutMs?: number): Promise<Recorded>;
  close(): Promise<void>;
}

export async function startFixtureProxy(
  strategy: StrategyName,
  options: Partial<Omit<ProxyOptions, 'strategy' | 'backend'>> = {},
  env: Record<string, string> = {},
): Promise<FixtureProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'mcpwarm-proxy-'));
  const record = join(dir, 'received.jsonl');
  const proxy = await startProxy({
    strategy,
    backend: { kind: 'stdio', command: process.execPath, args: [FIXTURE_SERVER], env: { ...process.env, FIXTURE_RECORD: record, ...env } },
    ...options,
  });
  const recorded = async (): Promise<Recorded[]> => {
    const text = await readFile(record, 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Recorded);
  };
  return {
    proxy,
    url: new URL(`${proxy.url}/mcp`),
    recorded,
    async waitForRecorded(predicate, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = (await recorded()).find(predicate);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no backend read such a message; they read ${JSON.stringify(await recorded())}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async close() {
      await proxy.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function connectClient(url: URL, capabilities: Record<string, unknown> = {}): Promise<{ client: Client; transport: StreamableHTTPClientTransport; close(): Promise<void> }> {
  const transport = new StreamableHTTPClientTransport(url);
  const client = new Client({ name: 'proxy-test', version: '1.0.0' }, { capabilities });
  await client.connect(transport);
  return {
    client,
    transport,
    close: async () => {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}

export function methodOf(entry: Recorded): string | undefined {
  return typeof entry.message.method === 'string' ? entry.message.method : undefined;
}

export const callTool = (id: number | string, name: string, args: Record<string, unknown>) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

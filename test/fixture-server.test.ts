import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';

const SERVER = fileURLToPath(new URL('../scenarios/fixtures/mcp-fixture-server/server.mjs', import.meta.url));

type Message = Record<string, any>;

/** The server driven by hand over raw stdio, for what the SDK client hides (errors, bad lines, env knobs). */
class RawServer {
  readonly child: ChildProcessWithoutNullStreams;
  readonly messages: Message[] = [];
  readonly nonJsonLines: string[] = [];
  stderrBytes = 0;
  private readonly closed: Promise<number | null>;
  private buffered = '';
  private waiters: Array<() => void> = [];

  constructor(env: Record<string, string> = {}, options: { drainStderr?: boolean } = {}) {
    this.child = spawn(process.execPath, [SERVER], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.closed = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      this.buffered += chunk;
      const lines = this.buffered.split('\n');
      this.buffered = lines.pop() ?? '';
      for (const line of lines) {
        try {
          this.messages.push(JSON.parse(line) as Message);
        } catch {
          this.nonJsonLines.push(line);
        }
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
    if (options.drainStderr !== false) this.drainStderr();
  }

  drainStderr(): void {
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderrBytes += chunk.length;
    });
  }

  send(message: Message | string): void {
    this.child.stdin.write(`${typeof message === 'string' ? message : JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);
  }

  async waitFor(predicate: (message: Message) => boolean, timeoutMs = 5000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(predicate);
      if (found) return found;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  response(id: number | string, timeoutMs?: number): Promise<Message> {
    return this.waitFor((message) => message.id === id, timeoutMs);
  }

  /** Resolves once the process has exited and its output streams are drained. */
  exitCode(): Promise<number | null> {
    return this.closed;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

const started: Array<{ close(): unknown }> = [];

afterEach(async () => {
  for (const item of started.splice(0)) await item.close();
});

function raw(env?: Record<string, string>, options?: { drainStderr?: boolean }): RawServer {
  const server = new RawServer(env, options);
  started.push({ close: () => server.kill() });
  return server;
}

async function connectClient(): Promise<{ client: Client; transport: StdioClientTransport }> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [SERVER], stderr: 'pipe' });
  const client = new Client({ name: 'fixture-test', version: '1.0.0' });
  await client.connect(transport);
  started.push(client);
  return { client, transport };
}

function textOf(result: unknown): string {
  const content = (result as { content: Array<{ type: string; text: string }> }).content;
  return content.map((part) => part.text).join('');
}

describe('fixture MCP server with the official SDK client', () => {
  it('initializes and lists its tools, resources and capabilities', async () => {
    const { client } = await connectClient();
    expect(client.getServerVersion()).toEqual({ name: 'mcp-fixture-server', version: '1.0.0' });
    expect(client.getServerCapabilities()).toEqual({
      tools: { listChanged: true },
      logging: {},
      resources: { subscribe: true },
    });
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(['crash', 'echo', 'notify', 'progress', 'work']);
    const { resources } = await client.listResources();
    expect(resources.map((resource) => resource.uri)).toContain('fixture://greeting');
    const read = await client.readResource({ uri: 'fixture://greeting' });
    expect(read.contents[0]).toMatchObject({ text: 'hello from the fixture server\n' });
    await client.ping();
  });

  it('calls echo and work (latency, CPU and a payload of the asked size)', async () => {
    const { client } = await connectClient();
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'héllo' } }))).toBe('héllo');
    const startedAt = performance.now();
    const result = await client.callTool({ name: 'work', arguments: { latencyMs: 60, cpuMs: 40, payloadBytes: 100_000 } });
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(95);
    expect(textOf(result)).toHaveLength(100_000);
    await expect(client.callTool({ name: 'work', arguments: { latencyMs: -1 } })).rejects.toThrow(/latencyMs/);
    await expect(client.callTool({ name: 'nope', arguments: {} })).rejects.toThrow(/unknown tool: nope/);
  });

  it('sends progress notifications to the request progress token', async () => {
    const { client } = await connectClient();
    const progress: Array<{ progress: number; total?: number }> = [];
    const result = await client.callTool({ name: 'progress', arguments: { steps: 3, intervalMs: 10 } }, undefined, {
      onprogress: (update) => progress.push({ progress: update.progress, total: update.total }),
    });
    expect(textOf(result)).toBe('completed 3 steps');
    // The SDK runs notification handlers a microtask later than response handlers, so the last
    // update can lose the race with the answer; the raw test below checks the exact sequence.
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress).toEqual([1, 2, 3].slice(0, progress.length).map((step) => ({ progress: step, total: 3 })));
  });

  it('sends the notifications the notify tool names, honouring log level and subscriptions', async () => {
    const { client } = await connectClient();
    const received: string[] = [];
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void received.push('tools'));
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void received.push(`log:${n.params.level}`));
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void received.push(`updated:${n.params.uri}`));

    await client.callTool({ name: 'notify', arguments: { kind: 'tools_list_changed' } });
    await client.callTool({ name: 'notify', arguments: { kind: 'log' } });
    await client.setLoggingLevel('error');
    await client.callTool({ name: 'notify', arguments: { kind: 'log' } });
    await client.callTool({ name: 'notify', arguments: { kind: 'resource_updated' } });
    await client.subscribeResource({ uri: 'fixture://config' });
    await client.callTool({ name: 'notify', arguments: { kind: 'resource_updated' } });
    await client.unsubscribeResource({ uri: 'fixture://config' });
    await client.callTool({ name: 'notify', arguments: { kind: 'resource_updated' } });
    // Notifications are written before the answer of the call that sent them.
    expect(received).toEqual(['tools', 'log:info', 'updated:fixture://config']);
    await expect(client.subscribeResource({ uri: 'fixture://missing' })).rejects.toThrow(/resource not found/);
  });

  it('stops a call cancelled through an AbortSignal and never answers it', async () => {
    const { client } = await connectClient();
    const errors: Error[] = [];
    client.onerror = (error) => void errors.push(error);
    const controller = new AbortController();
    const call = client.callTool({ name: 'work', arguments: { latencyMs: 300 } }, undefined, { signal: controller.signal });
    setTimeout(() => controller.abort('test cancels'), 50);
    await expect(call).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 400));
    // A late answer would reach the client as a response to an unknown request id.
    expect(errors).toEqual([]);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'still alive' } }))).toBe('still alive');
  });

  it('exits with the asked code on crash', async () => {
    const { client, transport } = await connectClient();
    const pid = transport.pid;
    const closed = new Promise<void>((resolve) => {
      client.onclose = () => resolve();
    });
    await expect(client.callTool({ name: 'crash', arguments: { code: 3 } })).rejects.toThrow();
    await closed;
    expect(pid).not.toBeNull();
    expect(() => process.kill(pid!, 0)).toThrow();
  });
});

describe('fixture MCP server over raw stdio', () => {
  it('answers the client protocol version when supported, else the latest', async () => {
    const server = raw();
    server.send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    server.send({ id: 2, method: 'initialize', params: { protocolVersion: '1999-01-01', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    expect((await server.response(1)).result.protocolVersion).toBe('2025-03-26');
    expect((await server.response(2)).result.protocolVersion).toBe('2025-11-25');
  });

  it('answers what it does not understand with JSON-RPC errors', async () => {
    const server = raw();
    server.send('{not json');
    server.send({ id: 1, method: 'no/such/method' });
    server.send({ id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 42 } } });
    server.send({ id: 3, method: 'logging/setLevel', params: { level: 'loud' } });
    server.send({ id: 4, method: 'tools/call', params: 'not an object' });
    server.send('[1, 2]');
    expect((await server.waitFor((m) => m.id === null && m.error?.code === -32700)).error.message).toMatch(/parse error/);
    expect((await server.response(1)).error.code).toBe(-32601);
    expect((await server.response(2)).error).toMatchObject({ code: -32602, message: 'text: expected a string' });
    expect((await server.response(3)).error.code).toBe(-32602);
    expect((await server.response(4)).error.code).toBe(-32602);
    await server.waitFor((m) => m.id === null && m.error?.code === -32600);
  });

  it('sends every progress notification with the request token before the answer', async () => {
    const server = raw();
    server.send({ id: 5, method: 'tools/call', params: { name: 'progress', arguments: { steps: 3, intervalMs: 5 }, _meta: { progressToken: 'tok' } } });
    await server.response(5);
    expect(server.messages.map((m) => m.params?.progress ?? `answer ${m.id}`)).toEqual([1, 2, 3, 'answer 5']);
    expect(server.messages[0]).toEqual({
      jsonrpc: '2.0',
      method: 'notifications/progress',
      params: { progressToken: 'tok', progress: 1, total: 3, message: 'step 1 of 3' },
    });
  });

  it('drops the answer of a cancelled request and answers the rest', async () => {
    const server = raw();
    server.send({ id: 'slow', method: 'tools/call', params: { name: 'work', arguments: { cpuMs: 2000 } } });
    server.send({ method: 'notifications/cancelled', params: { requestId: 'slow', reason: 'test' } });
    server.send({ id: 'fast', method: 'ping' });
    await server.response('fast');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.messages.map((m) => m.id)).toEqual(['fast']);
  });

  it('delays or withholds the initialize answer when told to', async () => {
    const initialize = { id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } };
    const delayed = raw({ FIXTURE_INIT_DELAY_MS: '300' });
    const startedAt = performance.now();
    delayed.send(initialize);
    await delayed.response(1);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(290);

    const silent = raw({ FIXTURE_NEVER_INITIALIZE: '1' });
    silent.send(initialize);
    silent.send({ id: 2, method: 'ping' });
    await silent.response(2);
    expect(silent.messages.some((m) => m.id === 1)).toBe(false);
  });

  it('writes garbage to stdout, floods stderr, or exits at start when told to', async () => {
    const garbage = raw({ FIXTURE_GARBAGE_STDOUT: '1' });
    garbage.send({ id: 1, method: 'ping' });
    await garbage.response(1);
    expect(garbage.nonJsonLines).toEqual(['this line is not JSON-RPC']);

    const noisy = raw({ FIXTURE_STDERR_BYTES: String(1024 * 1024) }, { drainStderr: false });
    noisy.send({ id: 1, method: 'ping' });
    await expect(noisy.response(1, 300)).rejects.toThrow(/no matching message/);
    noisy.drainStderr();
    await noisy.response(1);
    noisy.child.stdin.end();
    expect(await noisy.exitCode()).toBe(0);
    expect(noisy.stderrBytes).toBe(1024 * 1024);

    const exiting = raw({ FIXTURE_EXIT_AT_START: '7' });
    expect(await exiting.exitCode()).toBe(7);
  });

  it('exits with the code the crash tool asks for, without answering', async () => {
    const server = raw();
    server.send({ id: 1, method: 'tools/call', params: { name: 'crash', arguments: { code: 3 } } });
    expect(await server.exitCode()).toBe(3);
    expect(server.messages).toEqual([]);
  });

  it('exits with code 0 when stdin closes', async () => {
    const server = raw();
    server.send({ id: 1, method: 'ping' });
    await server.response(1);
    server.child.stdin.end();
    expect(await server.exitCode()).toBe(0);
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAutocannon } from './autocannon-load.js';

let server: Server;
let url: string;
const seen: Array<{ id: number; headers: Record<string, unknown> }> = [];

// A JSON-RPC endpoint that answers by id: every fourth an error answer with a 200, every fourth a 500, the rest results.
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const { id } = JSON.parse(body) as { id: number };
      seen.push({ id, headers: req.headers });
      res.setHeader('content-type', 'application/json');
      if (id % 4 === 1) return res.end(JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32603, message: 'broken' } }));
      if (id % 4 === 2) return res.writeHead(500).end('{}');
      res.end(JSON.stringify({ jsonrpc: '2.0', id, result: { tools: [] } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const session = { revision: '2025-11-25', sessionId: 's1', protocolVersion: '2025-11-25' } as const;

describe('runAutocannon', () => {
  it('sends an id of its own per request and counts every answer that is not a result as an error', async () => {
    const outcome = await runAutocannon({ url, call: { method: 'tools/list' }, addressing: session, token: 't', connections: 3, pipelining: 2, durationMs: 1000 });
    const ids = seen.map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(seen[0]!.headers).toMatchObject({ 'mcp-session-id': 's1', authorization: 'Bearer t', accept: 'application/json, text/event-stream' });

    const { latencyMs, problems } = outcome.answers;
    expect(latencyMs.length).toBe(problems.length);
    expect(latencyMs.length).toBeGreaterThan(8);
    const byProblem = (p: string | null) => problems.filter((x) => x === p).length;
    // As many of each kind as the server sent, but for the answers in flight when the run ended (3 connections x 2).
    const sent = (kind: number) => ids.filter((id) => id % 4 === kind).length;
    expect(sent(1) - byProblem('JSONRPC_-32603')).toBeGreaterThanOrEqual(0);
    expect(sent(1) - byProblem('JSONRPC_-32603')).toBeLessThanOrEqual(6);
    expect(sent(2) - byProblem('HTTP_500')).toBeGreaterThanOrEqual(0);
    expect(sent(2) - byProblem('HTTP_500')).toBeLessThanOrEqual(6);
    expect(byProblem('JSONRPC_-32603')).toBeGreaterThan(0);
    expect(byProblem(null) + byProblem('JSONRPC_-32603') + byProblem('HTTP_500')).toBe(problems.length);
    expect(outcome.errors).toBe(problems.length - byProblem(null));
    expect(outcome.non2xx).toBe(byProblem('HTTP_500'));
    expect(outcome.requestsPerSecond.mean).toBeGreaterThan(0);
    expect(outcome.unanswered).toEqual({});
    expect(outcome.latencyMs.p99).toBeGreaterThanOrEqual(outcome.latencyMs.p50);
  });

  it('counts requests without an answer, and gives up on an endpoint that refuses every connection', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const outcome = await runAutocannon({ url: `http://127.0.0.1:${port}/mcp`, call: { method: 'tools/list' }, addressing: session, connections: 2, pipelining: 1, durationMs: 30_000 });
    expect(outcome.answers.latencyMs).toEqual([]);
    expect(outcome.unanswered.ECONNREFUSED).toBeGreaterThanOrEqual(1000);
    expect(outcome.errors).toBe(outcome.unanswered.ECONNREFUSED);
    expect(outcome.durationS).toBeLessThan(10);
  });

  it('refuses impossible options with a coded error', async () => {
    const base = { url, call: { method: 'tools/list' }, addressing: session, connections: 1, pipelining: 1, durationMs: 1000 };
    await expect(runAutocannon({ ...base, connections: 0 })).rejects.toMatchObject({ code: 'USAGE_INVALID', message: expect.stringMatching(/connections/) });
    await expect(runAutocannon({ ...base, pipelining: 1.5 })).rejects.toMatchObject({ code: 'USAGE_INVALID' });
    await expect(runAutocannon({ ...base, durationMs: 500 })).rejects.toMatchObject({ code: 'USAGE_INVALID', message: expect.stringMatching(/at least 1 s/) });
  });
});

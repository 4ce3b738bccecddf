import { describe, expect, it } from 'vitest';
import { answerMessages, answerProblem, callBodies, callHeaders } from './mcp-http-load.js';

const session = { revision: '2025-11-25', sessionId: 'abc', protocolVersion: '2025-06-18' } as const;
const stateless = { revision: '2026-07-28' } as const;
const call = { method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } } };

describe('callHeaders and callBodies', () => {
  it('names the session and its agreed revision (2025-11-25)', () => {
    expect(callHeaders(call, session, 'tok')).toEqual({
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: 'Bearer tok',
      'mcp-protocol-version': '2025-06-18',
      'mcp-session-id': 'abc',
    });
    const body = callBodies(call, session);
    expect(JSON.parse(body(7))).toEqual({ jsonrpc: '2.0', id: 7, ...call });
    expect(JSON.parse(body(8)).id).toBe(8);
    expect(JSON.parse(callBodies({ method: 'tools/list' }, session)(1))).toEqual({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
  });

  it('makes every request stand alone in the stateless revision: headers and _meta agree', () => {
    expect(callHeaders(call, stateless)).toEqual({
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': 'echo',
    });
    expect(callHeaders({ method: 'tools/list' }, stateless)).not.toHaveProperty('mcp-name');
    const parsed = JSON.parse(callBodies(call, stateless)(3));
    expect(parsed.params.arguments).toEqual({ text: 'hi' });
    expect(parsed.params._meta).toEqual({
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': {},
      'io.modelcontextprotocol/clientInfo': { name: 'mcpwarm-bench', version: '1.0.0' },
    });
  });
});

describe('answerMessages', () => {
  it('reads a JSON message, a batch, and the data of an SSE stream', () => {
    expect(answerMessages('{"id":1}')).toEqual([{ id: 1 }]);
    expect(answerMessages('[{"id":1},{"id":2}]')).toEqual([{ id: 1 }, { id: 2 }]);
    expect(answerMessages('event: message\r\ndata: {"method":"notifications/progress"}\r\n\r\nevent: message\ndata: {"id":2}\n\n')).toEqual([{ method: 'notifications/progress' }, { id: 2 }]);
  });
});

describe('answerProblem', () => {
  const waiting = new Set([1, 2, 3]);
  const expected = (id: number | string) => typeof id === 'number' && waiting.delete(id);

  it('accepts the result of a request still waiting, once', () => {
    expect(answerProblem(200, '{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}', expected)).toBeUndefined();
    expect(answerProblem(200, '{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}', expected)).toBe('UNEXPECTED_ID');
    expect(answerProblem(200, 'data: {"jsonrpc":"2.0","id":2,"result":{}}\n\n', expected)).toBeUndefined();
    expect(answerProblem(200, '{"jsonrpc":"2.0","id":"3","result":{}}', expected)).toBe('UNEXPECTED_ID');
  });

  it('counts a non-2xx status, an error answer with a 200, and anything else as problems', () => {
    expect(answerProblem(404, '{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Session not found"}}', expected)).toBe('HTTP_404');
    expect(answerProblem(503, '', expected)).toBe('HTTP_503');
    expect(answerProblem(200, '{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"unknown tool"}}', expected)).toBe('JSONRPC_-32602');
    expect(answerProblem(200, 'not json', expected)).toBe('BAD_ANSWER');
    expect(answerProblem(200, '{"jsonrpc":"2.0","method":"notifications/message"}', expected)).toBe('BAD_ANSWER');
    expect(answerProblem(202, '', expected)).toBe('BAD_ANSWER');
    expect(answerProblem(200, '{"id":3,"result":{}}', expected)).toBe('BAD_ANSWER');
  });
});

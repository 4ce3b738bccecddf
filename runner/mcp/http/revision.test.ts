import { describe, expect, it } from 'vitest';
import { McpHttpError } from './http-io.js';
import { discoverResult, forSessionServer, removedInStateless, revisionOf, withResultType } from './revision.js';

const V = '2026-07-28';
const meta = (extra: Record<string, unknown> = {}) => ({
  'io.modelcontextprotocol/protocolVersion': V,
  'io.modelcontextprotocol/clientCapabilities': {},
  ...extra,
});
const call = (params: Record<string, unknown>) => ({ jsonrpc: '2.0' as const, id: 1, method: 'tools/call', params });

function refusal(fn: () => unknown): McpHttpError {
  try {
    fn();
  } catch (error) {
    if (error instanceof McpHttpError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('revisionOf', () => {
  it('takes a POST without a stateless header or _meta version as the session revision', () => {
    expect(revisionOf({ protocolVersion: '2025-11-25' }, call({ name: 'echo' }))).toEqual({ kind: 'sessions' });
    expect(revisionOf({}, call({ name: 'echo', _meta: { progressToken: 1 } }))).toEqual({ kind: 'sessions' });
  });

  it('reads a stateless request whose headers match its _meta', () => {
    const revision = revisionOf(
      { protocolVersion: V, method: 'tools/call', name: 'echo' },
      call({ name: 'echo', _meta: meta({ 'io.modelcontextprotocol/clientInfo': { name: 'c', version: '1' } }) }),
    );
    expect(revision).toEqual({ kind: 'stateless', client: { capabilities: {}, protocolVersion: V, clientInfo: { name: 'c', version: '1' } } });
  });

  it('refuses mismatched headers with HeaderMismatch (-32001)', () => {
    const cases = [
      () => revisionOf({ protocolVersion: V, method: 'tools/call', name: 'echo' }, call({ name: 'echo' })),
      () => revisionOf({ method: 'tools/call', name: 'echo' }, call({ name: 'echo', _meta: meta() })),
      () => revisionOf({ protocolVersion: '2025-11-25', method: 'tools/call', name: 'echo' }, call({ name: 'echo', _meta: meta() })),
      () => revisionOf({ protocolVersion: V, name: 'echo' }, call({ name: 'echo', _meta: meta() })),
      () => revisionOf({ protocolVersion: V, method: 'tools/list', name: 'echo' }, call({ name: 'echo', _meta: meta() })),
      () => revisionOf({ protocolVersion: V, method: 'tools/call', name: 'other' }, call({ name: 'echo', _meta: meta() })),
    ];
    for (const attempt of cases) {
      const error = refusal(attempt);
      expect(error.status).toBe(400);
      expect(error.rpcCode).toBe(-32001);
      expect(error.message).toMatch(/^HeaderMismatch/);
    }
  });

  it('refuses an unknown version and missing capabilities', () => {
    const unknown = refusal(() => revisionOf({ protocolVersion: '2099-01-01' }, call({ _meta: { 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } })));
    expect(unknown.rpcCode).toBe(-32004);
    const noCapabilities = refusal(() =>
      revisionOf({ protocolVersion: V, method: 'tools/list' }, { jsonrpc: '2.0', id: 2, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': V } } }),
    );
    expect(noCapabilities.rpcCode).toBe(-32602);
    expect(noCapabilities.id).toBe(2);
  });
});

describe('stateless helpers', () => {
  it('strips the 2026-07-28 _meta keys but keeps a progress token', () => {
    expect(forSessionServer(call({ name: 'echo', _meta: meta({ progressToken: 'p' }) }))).toEqual(call({ name: 'echo', _meta: { progressToken: 'p' } }));
    expect(forSessionServer(call({ name: 'echo', _meta: meta() }))).toEqual(call({ name: 'echo' }));
  });

  it('marks results complete, leaves errors and typed results alone', () => {
    expect(withResultType({ jsonrpc: '2.0', id: 1, result: { tools: [] } })).toEqual({ jsonrpc: '2.0', id: 1, result: { resultType: 'complete', tools: [] } });
    expect(withResultType({ jsonrpc: '2.0', id: 1, result: { resultType: 'input_required' } })).toEqual({ jsonrpc: '2.0', id: 1, result: { resultType: 'input_required' } });
    const error = { jsonrpc: '2.0' as const, id: 1, error: { code: -1, message: 'x' } };
    expect(withResultType(error)).toBe(error);
  });

  it('names removed methods and builds the discover result', () => {
    expect(removedInStateless('logging/setLevel')).toMatch(/not part of MCP 2026-07-28/);
    expect(removedInStateless('tools/call')).toBeUndefined();
    expect(discoverResult({ protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 's', version: '1' } })).toEqual({
      resultType: 'complete',
      supportedVersions: ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'],
      capabilities: { tools: {} },
      serverInfo: { name: 's', version: '1' },
    });
  });
});

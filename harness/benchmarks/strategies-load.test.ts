import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { errorKind } from './strategies-load.js';

describe('errorKind', () => {
  it('names HTTP statuses, MCP error codes, timeouts and socket errors', () => {
    expect(errorKind(new StreamableHTTPError(503, 'PROXY_SATURATED'))).toBe('HTTP 503');
    expect(errorKind(new McpError(-32603, 'MCP server process failed'))).toBe('MCP -32603');
    expect(errorKind(new McpError(-32001, 'Request timed out'))).toBe('TIMEOUT');
    expect(errorKind(new TypeError('fetch failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) }))).toBe('ECONNRESET');
    expect(errorKind(Object.assign(new Error('echo answered isError'), { code: 'TOOL_ERROR' }))).toBe('TOOL_ERROR');
    expect(errorKind(new RangeError('x'))).toBe('RangeError');
    expect(errorKind('a string')).toBe('ERROR');
  });
});

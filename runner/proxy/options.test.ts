import { describe, expect, it } from 'vitest';
import { McpWarmError } from '../errors.js';
import { PROXY_DEFAULTS, proxyOptionProblems, resolveProxyOptions, type ProxyOptions } from './options.js';

const stdio: ProxyOptions['backend'] = { kind: 'stdio', command: 'node', args: ['server.mjs'] };

describe('proxy options', () => {
  it('fills in the defaults', () => {
    const resolved = resolveProxyOptions({ strategy: 'p-rard', backend: stdio, backends: 3 });
    expect(resolved).toMatchObject({ ...PROXY_DEFAULTS, strategy: 'p-rard', backends: 3, backend: stdio });
    expect(resolved.sessionKeyHeader).toBeUndefined();
  });

  it('lists every problem at once', () => {
    const problems = proxyOptionProblems({
      strategy: 's-rard',
      backend: { kind: 'pool', controller: 'ftp://x', image: '' },
      backends: 0,
      port: 70_000,
      maxQueue: -1,
      maxSessions: 0,
      requestTimeoutMs: 1.5,
      sessionKeyHeader: 'bad header',
    });
    expect(problems).toEqual([
      '--backends: only p-rard has a pool of backends (s-rard decides its own)',
      '--backends: expected a whole number from 1 to 256',
      '--session-key-header: only per-session keys backends by client',
      '--session-key-header: expected an HTTP header name',
      '--port: expected a whole number from 0 to 65535, not 70000',
      '--max-queue: expected a whole number from 0 up, not -1',
      '--max-sessions: expected a whole number from 1 up, not 0',
      '--request-timeout: expected a whole number from 1 up, not 1.5',
      '--image: expected an image reference',
      '--controller: expected an http(s) URL, not "ftp://x"',
    ]);
  });

  it('refuses bad options with USAGE_INVALID, exit 2', () => {
    let error: unknown;
    try {
      resolveProxyOptions({ strategy: 'fastest' as never, backend: { kind: 'stdio', command: ' ', args: [] } });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(McpWarmError);
    expect((error as McpWarmError).code).toBe('USAGE_INVALID');
    expect((error as McpWarmError).exitCode).toBe(2);
    expect((error as McpWarmError).details?.problems).toEqual(['--strategy: expected one of s-rard, p-rard, per-session, not "fastest"', 'the command after -- is empty']);
  });
});

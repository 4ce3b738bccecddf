/**
 * `mcpwarm proxy`: MCP Streamable HTTP (both revisions) at `/mcp` in front of stdio MCP servers,
 * scaled by one of three strategies (S-RARD, P-RARD, server per session), with `GET /health` and
 * `GET /metrics`. startProxy is what the CLI runs, and what benchmarks start in-process.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { McpWarmError } from '../errors.js';
import { sendJson } from '../http-json.js';
import { startHttpService } from '../http-service.js';
import { createMcpHttpFront } from '../mcp/http/front.js';
import { SessionTable } from '../mcp/http/session.js';
import { BackendPool, type PoolObserver, type PoolStats } from './backend-pool.js';
import { createBackendSource } from './backends/index.js';
import { ProxyMetrics, type ProxyMetricsSnapshot } from './metrics.js';
import { resolveProxyOptions, type ProxyOptions } from './options.js';
import { createStrategy } from './strategies/index.js';
import type { StrategyName } from './strategy.js';

export const MCP_PATH = '/mcp';

export interface RunningProxy {
  /** http://HOST:PORT (the MCP endpoint is at `${url}/mcp`). */
  url: string;
  port: number;
  strategy: StrategyName;
  /** What the backends are (the command, or the image and controller). */
  backend: string;
  metrics: { registry: ProxyMetrics['registry']; snapshot(): ProxyMetricsSnapshot };
  stats(): PoolStats;
  /** Stops accepting, gives up what is in flight (backends are sent notifications/cancelled), stops every backend. */
  close(): Promise<void>;
}

/** The path of a request target; the MCP endpoint's, the one every call goes to, without parsing a URL. */
function pathOf(target: string | undefined): string {
  return target === MCP_PATH ? MCP_PATH : new URL(target ?? '/', 'http://proxy').pathname;
}

/** Logs backend trouble besides counting it. */
function loggingObserver(metrics: ProxyMetrics, log: (line: string) => void): PoolObserver {
  return {
    attached: (call) => metrics.attached(call),
    settled: (call) => metrics.settled(call),
    backendStarted: (slot, ms) => metrics.backendStarted(slot, ms),
    backendCrashed(_slot, error, label) {
      metrics.backendCrashed();
      log(`backend ${label} died (${error.message}); starting a replacement`);
    },
    backendRestartFailed(_slot, error) {
      metrics.backendRestartFailed();
      log(`a replacement backend failed to start (${error.message.split('\n')[0]}); retrying`);
    },
    refused: (reason) => metrics.refused(reason),
  };
}

export async function startProxy(input: ProxyOptions): Promise<RunningProxy> {
  const options = resolveProxyOptions(input);
  const source = createBackendSource(options.backend, options);
  const strategy = createStrategy(options.strategy, options);
  let pool: BackendPool | undefined;
  let metrics: ProxyMetrics | undefined;
  const sessions = new SessionTable((live, id) => {
    if (live < options.maxSessions) return undefined;
    metrics?.refused('sessions');
    return pool?.saturated(`the proxy takes ${options.maxSessions} sessions at a time (--max-sessions)`, id);
  });
  metrics = new ProxyMetrics(strategy.name, () => pool!.stats());
  pool = new BackendPool({
    source,
    strategy,
    sessions,
    maxQueue: options.maxQueue,
    requestTimeoutMs: options.requestTimeoutMs,
    observer: loggingObserver(metrics, options.log),
  });
  try {
    await strategy.start(pool);
  } catch (error) {
    await pool.close();
    throw error;
  }
  const front = createMcpHttpFront({
    upstream: pool,
    sessions,
    maxBodyBytes: options.maxBodyBytes,
    idle: { timeoutMs: options.idleTimeoutMs, streamKeepsAlive: false, reapEveryMs: Math.max(50, Math.min(1000, options.idleTimeoutMs / 4)) },
    ...(options.sessionKeyHeader ? { statelessKeyHeader: options.sessionKeyHeader.toLowerCase() } : {}),
  });

  const routes = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = pathOf(req.url);
    if (path === MCP_PATH) return front.handle(req, res);
    if (req.method === 'GET' && path === '/health') return sendJson(res, 200, { status: 'ok', strategy: strategy.name, backend: source.description, ...pool!.stats() });
    if (req.method === 'GET' && path === '/metrics') {
      res.writeHead(200, { 'content-type': metrics!.registry.contentType });
      res.end(await metrics!.registry.metrics());
      return;
    }
    throw new McpWarmError('ROUTE_NOT_FOUND', `no route ${req.method} ${path}: the MCP endpoint is ${MCP_PATH}`);
  };

  const service = await startHttpService({ name: 'proxy', host: options.host, port: options.port, routes }).catch(async (error: unknown) => {
    await front.close('the proxy failed to start');
    await pool!.close();
    throw new McpWarmError('USAGE_INVALID', `cannot listen on ${options.host}:${options.port}: ${(error as Error).message}`, { cause: error });
  });

  let closing: Promise<void> | undefined;
  return {
    url: service.url,
    port: service.port,
    strategy: strategy.name,
    backend: source.description,
    metrics: { registry: metrics.registry, snapshot: () => metrics!.snapshot() },
    stats: () => pool!.stats(),
    close: () =>
      (closing ??= (async () => {
        await front.close('the proxy is stopping');
        await pool!.close();
        await service.close();
      })()),
  };
}

/**
 * The pool controller's HTTP API: activations are claimed from the pool and carried out by the
 * claimed runner's agent (ActivationService), used through the controller's MCP relay, and ended
 * by DELETE; the pool's state, readiness and metrics.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { McpWarmError, isMcpWarmError } from '../errors.js';
import { readJsonBody, sendJson } from '../http-json.js';
import { requireBearer, startHttpService } from '../http-service.js';
import { checkAuthSetup, ImageAllowlist } from '../agent/access.js';
import { parseSourceReference } from '../oci/reference.js';
import type { Substrate, SubstrateHealth } from '../substrates/types.js';
import { DEFAULT_ACTIVATE_GRACE_MS, parseControllerActivationRequest } from './activation-request.js';
import { ActivationService } from './activation-service.js';
import { controllerMetrics } from './controller-metrics.js';
import type { HotImageConfig } from './hot-tier.js';
import { relayMcp } from './mcp-relay.js';
import type { Pool } from './pool.js';
import { DEFAULT_PREFETCH_TIMEOUT_MS, prefetchList } from './prefetch.js';
import { RunnerClient } from './runner-client.js';
import { RunnerPrefetch } from './runner-prefetch.js';
import type { ServerDefinition } from './servers.js';

export type { Activation } from './activation-record.js';

export interface ControllerOptions {
  host: string;
  port: number;
  pool: Pool;
  /** The pool's substrate: while its health is not ok, /ready is 503 with the reason, and GET /pool reports it. */
  substrate?: Substrate;
  token?: string;
  insecureNoAuth?: boolean;
  allow?: string[];
  /** How long a claim lasts before the reconcile loop ends it. */
  leaseMs: number;
  /**
   * Time a runner's agent has to answer an activation beyond the request's readiness timeout
   * (default 60 s: pull, unpack, start); past it the runner counts as lost (destroyed, and the
   * activation tried once more on another runner).
   */
  activateGraceMs?: number;
  /** Images kept pre-activated in the hot tier. */
  hot?: HotImageConfig[];
  /** Named MCP servers for the lifecycle API. */
  servers?: ServerDefinition[];
  /**
   * Images pulled into every new runner before it counts as warm, besides every hot-tier and
   * named server's image (which are always prefetched).
   */
  prefetch?: string[];
  /** Time a runner's agent has to pull them all; past it the runner is warm without what was missing (default 5 minutes). */
  prefetchTimeoutMs?: number;
  /** How often live activations are checked for an exited server or a lost runner (default 1 s). */
  checkIntervalMs?: number;
}

export interface RunningController {
  url: string;
  close(): Promise<void>;
}

export async function startController(options: ControllerOptions, runnerToken: string): Promise<RunningController> {
  checkAuthSetup(options.token, options.insecureNoAuth ?? false, options.host);
  const allowlist = new ImageAllowlist(options.allow ?? []);
  const { pool } = options;
  // Checked here, so a wrong image fails the start instead of every runner's prefetch.
  for (const image of options.prefetch ?? []) {
    parseSourceReference(image);
    allowlist.check(image);
  }
  const runners = new RunnerClient(runnerToken);
  const prefetch = prefetchList(options.prefetch ?? [], options.hot ?? [], options.servers ?? []);
  if (prefetch.length > 0) pool.usePrefetch(new RunnerPrefetch(prefetch, runners, options.prefetchTimeoutMs ?? DEFAULT_PREFETCH_TIMEOUT_MS));
  const metrics = controllerMetrics(pool);
  const service = new ActivationService({
    pool,
    runners,
    metrics,
    leaseMs: options.leaseMs,
    activateGraceMs: options.activateGraceMs ?? DEFAULT_ACTIVATE_GRACE_MS,
    hot: options.hot ?? [],
    servers: options.servers ?? [],
    checkIntervalMs: options.checkIntervalMs ?? 1000,
    log: (line) => process.stderr.write(`controller: ${line}\n`),
  });
  const { registry, servers, hot } = service;
  await pool.start();
  await service.start();

  const activate = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const start = performance.now();
    const { request, tier } = parseControllerActivationRequest(await readJsonBody(req));
    allowlist.check(request.image);
    sendJson(res, 201, await service.activate(request, tier, start));
  };

  const serverRoute = async (req: IncomingMessage, res: ServerResponse, name: string, action: string | undefined): Promise<void> => {
    if (req.method === 'GET' && action === undefined) return sendJson(res, 200, servers.status(name));
    if (req.method !== 'POST' || action === undefined) throw new McpWarmError('ROUTE_NOT_FOUND', `no route ${req.method} /servers/${name}${action ? `/${action}` : ''}`);
    const body = (req.headers['content-length'] === '0' || req.headers['content-length'] === undefined ? {} : await readJsonBody(req)) as Record<string, unknown>;
    servers.status(name);
    if (action === 'scale') {
      if (typeof body.replicas !== 'number') throw new McpWarmError('REQUEST_INVALID', 'scale needs {"replicas": N}', { details: { problems: [{ field: 'replicas', message: 'expected a number' }] } });
      return sendJson(res, 200, await servers.scale(name, body.replicas));
    }
    if (action === 'stop') return sendJson(res, 200, await servers.stop(name, body.force === true));
    // start: wait until ready, within timeoutMs (the start goes on after a timeout).
    const timeoutMs = typeof body.timeoutMs === 'number' ? body.timeoutMs : 60_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new McpWarmError('SERVER_INIT_TIMEOUT', `server ${name} was not ready within ${timeoutMs} ms (still starting)`)), timeoutMs);
    });
    try {
      return sendJson(res, 200, await Promise.race([servers.start(name), timeout]));
    } finally {
      clearTimeout(timer);
    }
  };

  const substrateHealth = (): SubstrateHealth => options.substrate?.health?.() ?? { ok: true };

  const routes = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://controller').pathname;
    service.sweep();
    if (req.method === 'GET' && path === '/health') return sendJson(res, 200, { status: 'ok' });
    if (req.method === 'GET' && path === '/ready') {
      // Not ready while the substrate cannot see or change runners: claims and refills would fail.
      const status = pool.status();
      const substrate = substrateHealth();
      const ready = status.warmTargetReachedOnce && substrate.ok;
      return sendJson(res, ready ? 200 : 503, { ready, pool: status, substrate });
    }
    if (req.method === 'GET' && path === '/metrics') {
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(await metrics.registry.metrics());
      return;
    }
    requireBearer(req, path, options.token);
    if (req.method === 'POST' && path === '/activations') return activate(req, res);
    if (req.method === 'GET' && path === '/activations') return sendJson(res, 200, { activations: registry.list() });
    if (req.method === 'GET' && path === '/pool') return sendJson(res, 200, { ...pool.status(), substrate: substrateHealth(), hot: hot.status(), runnerList: pool.runnerList() });
    if (req.method === 'GET' && path === '/servers') return sendJson(res, 200, { servers: servers.list() });
    const server = /^\/servers\/([^/]+)(?:\/(start|stop|scale))?$/.exec(path);
    if (server) return serverRoute(req, res, decodeURIComponent(server[1]!), server[2]);
    const match = /^\/activations\/(a-[0-9a-f]{12})(\/mcp)?$/.exec(path);
    const activation = match ? await service.find(match[1]!) : undefined;
    if (activation && match![2] === '/mcp') return service.relayFailed(activation, await relayMcp(req, res, new URL(activation.runnerEndpoint), runnerToken));
    if (activation && req.method === 'GET') return sendJson(res, 200, activation);
    if (activation && req.method === 'DELETE') {
      await service.end(activation, 'deleted');
      return sendJson(res, 200, { deleted: activation.activationId });
    }
    throw new McpWarmError('ROUTE_NOT_FOUND', `no route ${req.method} ${path}`);
  };

  const http = await startHttpService({
    name: 'controller',
    host: options.host,
    port: options.port,
    routes,
    onError: (error, _req, res) => {
      if (isMcpWarmError(error) && error.code === 'POOL_EXHAUSTED') res.setHeader('retry-after', String(error.details?.retryAfterSeconds ?? 1));
    },
  });
  return {
    url: http.url,
    close: async () => {
      await http.close();
      await service.stop();
      await pool.stop();
      metrics.detach();
    },
  };
}

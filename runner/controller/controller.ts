/**
 * The pool controller's HTTP API: activations are claimed from the pool and carried out by the
 * claimed runner's agent; ending one destroys its runner (single use) and refills the pool.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { McpWarmError, isMcpWarmError } from '../errors.js';
import { callJson, errorFromAnswer, readJsonBody, sendJson } from '../http-json.js';
import { requireBearer, startHttpService } from '../http-service.js';
import { checkAuthSetup, ImageAllowlist } from '../agent/access.js';
import { parseActivationRequest, type ActivationRequest } from '../agent/activation-request.js';
import type { InstanceInfo } from '../agent/instance.js';
import type { Runner } from '../substrates/types.js';
import { HotTier, type HotImageConfig } from './hot-tier.js';
import { relayMcp } from './mcp-relay.js';
import { ServerLifecycle, type ServerDefinition } from './servers.js';
import { Pool } from './pool.js';

export interface ControllerOptions {
  host: string;
  port: number;
  pool: Pool;
  token?: string;
  insecureNoAuth?: boolean;
  allow?: string[];
  /** How long a claim lasts before the reconcile loop ends it. */
  leaseMs: number;
  /** Images kept pre-activated in the hot tier. */
  hot?: HotImageConfig[];
  /** Named MCP servers for the lifecycle API. */
  servers?: ServerDefinition[];
}

export interface Activation {
  activationId: string;
  runner: string;
  /** MCP Streamable HTTP for this activation, on the controller (relayed to the runner). */
  endpoint: string;
  /** The same on the runner itself (reachable from the controller's network only). */
  runnerEndpoint: string;
  tier: 'hot' | 'warm' | 'cold';
  image: { ref: string; digest: string };
  phases: Record<string, number>;
  createdAt: string;
}

export interface RunningController {
  url: string;
  close(): Promise<void>;
}

function controllerMetrics(pool: Pool) {
  const registry = new Registry();
  const buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  return {
    registry,
    available: new Gauge({
      name: 'mcp_warmpool_available_pods',
      help: 'Warm runners ready to be claimed',
      registers: [registry],
      collect() {
        this.set(pool.status().available);
      },
    }),
    runners: new Gauge({
      name: 'mcp_warmpool_runners',
      help: 'Runners by state and phase',
      labelNames: ['state', 'phase'],
      registers: [registry],
      collect() {
        this.reset();
        for (const runner of pool.runners()) this.inc({ state: runner.state, phase: runner.phase });
      },
    }),
    warmTarget: new Gauge({
      name: 'mcp_warmpool_warm_target',
      help: 'Warm runners the pool aims for (follows arrivals when autoscaling)',
      registers: [registry],
      collect() {
        this.set(pool.warmTarget);
      },
    }),
    claims: new Counter({ name: 'mcp_warmpool_claims_total', help: 'Activations by tier and result', labelNames: ['tier', 'result'], registers: [registry] }),
    queueWait: new Histogram({ name: 'mcp_warmpool_queue_wait_seconds', help: 'Time activations waited for a runner', buckets, registers: [registry] }),
    coldFallbacks: new Counter({ name: 'mcp_warmpool_cold_fallbacks_total', help: 'Activations served by a runner made for them', registers: [registry] }),
  };
}

function agentCall(runner: Runner, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  return callJson(new URL(path, runner.endpoint), { method, token, body, unreachable: { code: 'SUBSTRATE_FAILED', what: `runner ${runner.id}` } });
}

export async function startController(options: ControllerOptions, runnerToken: string): Promise<RunningController> {
  checkAuthSetup(options.token, options.insecureNoAuth ?? false, options.host);
  const allowlist = new ImageAllowlist(options.allow ?? []);
  const { pool } = options;
  const metrics = controllerMetrics(pool);
  const activations = new Map<string, Activation>();
  await pool.start();

  /** Claims a runner and has its agent activate the image: one activation, tier warm or cold. */
  const activateOnPool = async (request: ActivationRequest, start: number): Promise<Activation> => {
    const activationId = `a-${randomBytes(6).toString('hex')}`;
    const claim = await pool.claim({ activationId, image: request.image, leaseMs: options.leaseMs }).catch((error: unknown) => {
      metrics.claims.inc({ tier: 'none', result: 'exhausted' });
      throw error;
    });
    metrics.queueWait.observe(claim.queueMs / 1000);
    if (claim.tier === 'cold') metrics.coldFallbacks.inc();
    const answer = await agentCall(claim.runner, runnerToken, 'POST', '/activate', { ...request, instanceId: activationId }).catch(async (error: unknown) => {
      await pool.release(claim.runner.id);
      throw error;
    });
    if (answer.status !== 201) {
      // A runner that failed an activation may hold half of it: it is not reused.
      await pool.release(claim.runner.id);
      metrics.claims.inc({ tier: claim.tier, result: 'error' });
      throw errorFromAnswer({ ...answer.json?.error, details: { runner: claim.runner.id, ...answer.json?.error?.details } }, answer.status);
    }
    const instance = answer.json as InstanceInfo;
    metrics.claims.inc({ tier: claim.tier, result: 'ok' });
    return {
      activationId,
      runner: claim.runner.id,
      endpoint: `/activations/${activationId}/mcp`,
      runnerEndpoint: new URL(instance.endpoint, claim.runner.endpoint).href,
      tier: claim.tier,
      image: instance.image,
      phases: { queueMs: claim.queueMs, claimMs: claim.claimMs, ...instance.phases, totalMs: performance.now() - start },
      createdAt: new Date().toISOString(),
    };
  };

  const hot = new HotTier<Activation>(
    options.hot ?? [],
    (image) => activateOnPool({ image }, performance.now()),
    (image, error) => process.stderr.write(`controller: hot instance of ${image} failed: ${(error as Error).message}\n`),
  );

  const activate = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const start = performance.now();
    const request = parseActivationRequest(await readJsonBody(req));
    allowlist.check(request.image);
    // Only a plain request (the image alone) can be served by an instance made ahead of it.
    let ready = Object.keys(request).length === 1 ? hot.take(request.image) : undefined;
    // A shelved instance whose runner went away meanwhile (lease expired, crashed) is skipped.
    while (ready && !pool.runners().some((r) => r.id === ready!.runner && r.state === 'claimed' && r.phase === 'running')) ready = hot.take(request.image);
    if (ready) metrics.claims.inc({ tier: 'hot', result: 'ok' });
    const activation: Activation = ready
      ? { ...ready, tier: 'hot', phases: { ...ready.phases, queueMs: 0, claimMs: performance.now() - start, totalMs: performance.now() - start }, createdAt: new Date().toISOString() }
      : await activateOnPool(request, start);
    activations.set(activation.activationId, activation);
    sendJson(res, 201, activation);
  };

  /** Ends an activation; `force` skips the graceful stop of its server (the runner is destroyed either way). */
  const end = async (activation: Activation, force = false): Promise<void> => {
    activations.delete(activation.activationId);
    const runner = pool.runners().find((r) => r.id === activation.runner);
    if (runner && !force) await agentCall(runner, runnerToken, 'DELETE', `/instances/${activation.activationId}`).catch(() => undefined);
    await pool.release(activation.runner);
  };

  const servers = new ServerLifecycle<Activation>(options.servers ?? [], {
    start: async (image) => {
      const activation = await activateOnPool({ image }, performance.now());
      activations.set(activation.activationId, activation);
      return activation;
    },
    stop: (activation, force) => end(activation, force),
  });

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

  /** Activations whose runner the reconcile loop ended (lease expired, runner crashed) are gone too. */
  const forgetEnded = (): void => {
    const live = new Set(pool.runners().filter((r) => r.state === 'claimed' && r.phase !== 'gone' && r.phase !== 'failed').map((r) => r.id));
    for (const [id, activation] of activations) if (!live.has(activation.runner)) activations.delete(id);
  };

  const routes = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://controller').pathname;
    forgetEnded();
    if (req.method === 'GET' && path === '/health') return sendJson(res, 200, { status: 'ok' });
    if (req.method === 'GET' && path === '/ready') {
      const ready = pool.status().warmTargetReachedOnce;
      return sendJson(res, ready ? 200 : 503, { ready, pool: pool.status() });
    }
    if (req.method === 'GET' && path === '/metrics') {
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(await metrics.registry.metrics());
      return;
    }
    requireBearer(req, path, options.token);
    if (req.method === 'POST' && path === '/activations') return activate(req, res);
    if (req.method === 'GET' && path === '/activations') return sendJson(res, 200, { activations: [...activations.values()] });
    if (req.method === 'GET' && path === '/pool') return sendJson(res, 200, { ...pool.status(), hot: hot.status(), runnerList: pool.runners() });
    if (req.method === 'GET' && path === '/servers') return sendJson(res, 200, { servers: servers.list() });
    const server = /^\/servers\/([^/]+)(?:\/(start|stop|scale))?$/.exec(path);
    if (server) return serverRoute(req, res, decodeURIComponent(server[1]!), server[2]);
    const match = /^\/activations\/(a-[0-9a-f]{12})(\/mcp)?$/.exec(path);
    const activation = match ? activations.get(match[1]!) : undefined;
    if (match && !activation) throw new McpWarmError('INSTANCE_NOT_FOUND', `no activation ${match[1]}`);
    if (activation && match![2] === '/mcp') return relayMcp(req, res, new URL(activation.runnerEndpoint), runnerToken);
    if (activation && req.method === 'GET') return sendJson(res, 200, activation);
    if (activation && req.method === 'DELETE') {
      await end(activation);
      return sendJson(res, 200, { deleted: activation.activationId });
    }
    throw new McpWarmError('ROUTE_NOT_FOUND', `no route ${req.method} ${path}`);
  };

  const service = await startHttpService({
    name: 'controller',
    host: options.host,
    port: options.port,
    routes,
    onError: (error, _req, res) => {
      if (isMcpWarmError(error) && error.code === 'POOL_EXHAUSTED') res.setHeader('retry-after', String(error.details?.retryAfterSeconds ?? 1));
    },
  });
  hot.refill();
  const refillTimer = setInterval(() => hot.refill(), 1000);
  refillTimer.unref();
  return {
    url: service.url,
    close: async () => {
      clearInterval(refillTimer);
      await service.close();
      await Promise.all(hot.stop().map((activation) => end(activation)));
      await pool.stop();
    },
  };
}

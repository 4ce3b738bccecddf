/**
 * The runner agent: an HTTP service that activates OCI images as sandboxed MCP servers and serves
 * each one as MCP Streamable HTTP at /instances/ID/mcp. No Docker socket: images come through the
 * project's own pull pipeline, processes through the sandbox interface.
 */
import { access, constants, mkdir, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { McpWarmError, isMcpWarmError } from '../errors.js';
import { DEFAULT_MAX_BODY_BYTES, readJsonBody, sendJson } from '../http-json.js';
import { requireBearer, startHttpService } from '../http-service.js';
import { ImageCache } from '../oci/cache/image-cache.js';
import { releaseMaterializedRootfs } from '../oci/materialize.js';
import { parseInsecureRegistries } from '../oci/insecure-registries.js';
import { overlayAvailable } from '../oci/overlay.js';
import { selectSandbox, sandboxReport } from '../sandbox/registry.js';
import type { SandboxName } from '../sandbox/types.js';
import { checkAuthSetup, ImageAllowlist } from './access.js';
import { activate, type ActivationContext, type InjectedDelay } from './activation.js';
import { parseActivationRequest, parseImageRequest } from './activation-request.js';
import { AuditLog, failureRecord } from './audit-log.js';
import { ImagePulls } from './image-pulls.js';
import { sweepInstances } from './leftovers.js';
import type { Instance } from './instance.js';
import { AgentMetrics } from './metrics.js';
import { prefetchImage } from './prefetch.js';

export interface AgentOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  cacheDir: string;
  cacheBudget?: string | number;
  sandbox: SandboxName | 'auto';
  token?: string;
  insecureNoAuth?: boolean;
  allow?: string[];
  /** Registries pulled from over plain HTTP although not on loopback (HOST[:PORT]; see oci/insecure-registries.ts). */
  insecureRegistries?: readonly string[];
  auditLogPath?: string;
  maxBodyBytes?: number;
  stopGraceMs?: number;
  readinessTimeoutMs?: number;
  /** Added to every activation, reported as the phase injectedDelayMs (for measuring a regression gate). */
  injectDelay?: InjectedDelay;
}

export interface RunningAgent {
  url: string;
  port: number;
  sandbox: SandboxName;
  instances(): Instance[];
  close(): Promise<void>;
}

export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  checkAuthSetup(options.token, options.insecureNoAuth ?? false, options.host);
  const allowlist = new ImageAllowlist(options.allow ?? []);
  const sandbox = await selectSandbox(options.sandbox);
  const cache = await ImageCache.open({ dir: options.cacheDir, ...(options.cacheBudget !== undefined ? { budget: options.cacheBudget } : {}) });
  const instancesDir = join(cache.dir, 'instances');
  await recoverFromCrash(cache, instancesDir);
  const metrics = new AgentMetrics();
  const audit = AuditLog.open(options.auditLogPath);
  const instances = new Map<string, Instance>();
  const reserved = new Set<string>();

  const images = new ImagePulls({
    cache,
    overlayWhiteouts: await overlayAvailable(),
    insecureRegistries: parseInsecureRegistries(options.insecureRegistries ?? [], 'insecure registries'),
  });
  const context: ActivationContext = {
    cache,
    images,
    sandbox,
    allowlist,
    instancesDir,
    stopGraceMs: options.stopGraceMs ?? 3000,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    defaultReadinessTimeoutMs: options.readinessTimeoutMs ?? 30_000,
    ...(options.injectDelay ? { injectDelay: options.injectDelay } : {}),
    reserveId: (id) => {
      if (reserved.has(id)) throw new McpWarmError('REQUEST_INVALID', `instance id ${id} is in use`, { details: { problems: [{ field: 'instanceId', message: 'in use' }] } });
      reserved.add(id);
      return () => reserved.delete(id);
    },
  };

  // An instance stays listed (as stopping or exited) until everything it had is gone.
  const remove = async (instance: Instance): Promise<void> => {
    await instance.stop();
    if (instances.get(instance.info.instanceId) === instance) instances.delete(instance.info.instanceId);
    metrics.liveInstances.set(instances.size);
  };

  const callerOf = (req: IncomingMessage): string => `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;

  const routes = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const caller = callerOf(req);
    const url = new URL(req.url ?? '/', 'http://agent');
    const path = url.pathname;
    if (req.method === 'GET' && path === '/health') return sendJson(res, 200, { status: 'ok' });
    if (req.method === 'GET' && path === '/ready') return ready(res, cache.dir, sandbox.name);
    if (req.method === 'GET' && path === '/metrics') {
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(await metrics.registry.metrics());
      return;
    }
    requireBearer(req, path, options.token);
    if (req.method === 'POST' && path === '/activate') {
      let image: string | undefined;
      try {
        const request = parseActivationRequest(await readJsonBody(req, context.maxBodyBytes));
        image = request.image;
        const instance = await activate(context, request);
        instances.set(instance.info.instanceId, instance);
        metrics.liveInstances.set(instances.size);
        metrics.observePhases(instance.info.phases);
        metrics.imagePullDuration.observe((instance.info.phases.resolveMs + instance.info.phases.pullMs + instance.info.phases.unpackMs) / 1000);
        metrics.layerCache.inc({ result: 'hit' }, instance.info.cache.layersHit);
        metrics.layerCache.inc({ result: 'miss' }, instance.info.cache.layersMissed);
        // A server that exits on its own is taken down like a deleted one.
        void instance.exited.then(() => (instances.get(instance.info.instanceId) === instance ? remove(instance) : undefined));
        audit.write({ action: 'activate', caller, result: 'ok', image, digest: instance.info.image.digest, instanceId: instance.info.instanceId, totalMs: instance.info.phases.totalMs });
        return sendJson(res, 201, instance.info);
      } catch (error) {
        const record = failureRecord('activate', caller, image, error);
        metrics.activationErrors.inc({ code: record.code });
        audit.write(record);
        throw error;
      }
    }
    if (req.method === 'POST' && path === '/images') {
      let image: string | undefined;
      try {
        image = parseImageRequest(await readJsonBody(req, context.maxBodyBytes)).image;
        const answer = await prefetchImage({ images, allowlist }, image);
        audit.write({ action: 'prefetch', caller, result: 'ok', image, digest: answer.digest, totalMs: answer.phases.totalMs });
        return sendJson(res, 200, answer);
      } catch (error) {
        audit.write(failureRecord('prefetch', caller, image, error));
        throw error;
      }
    }
    if (req.method === 'POST' && path === '/cache/prune') {
      const { evicted, bytesAfter } = await cache.prune();
      return sendJson(res, 200, { evicted: evicted.length, bytesFreed: evicted.reduce((sum, e) => sum + e.bytes, 0), bytesAfter });
    }
    if (req.method === 'GET' && path === '/instances') return sendJson(res, 200, { instances: [...instances.values()].map((i) => i.info) });
    const match = /^\/instances\/([a-z0-9][a-z0-9-]{0,62})(\/logs|\/mcp)?$/.exec(path);
    const instance = match ? instances.get(match[1]!) : undefined;
    if (match && !instance) throw new McpWarmError('INSTANCE_NOT_FOUND', `no instance ${match[1]}`);
    if (instance && match![2] === '/mcp') return instance.handleMcp(req, res);
    if (instance && match![2] === '/logs' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(instance.logs());
      return;
    }
    if (instance && match![2] === undefined && req.method === 'GET') return sendJson(res, 200, instance.info);
    if (instance && match![2] === undefined && req.method === 'DELETE') {
      await remove(instance);
      audit.write({ action: 'delete', caller, result: 'ok', instanceId: instance.info.instanceId, image: instance.info.image.ref });
      return sendJson(res, 200, { deleted: instance.info.instanceId });
    }
    throw new McpWarmError('ROUTE_NOT_FOUND', `no route ${req.method} ${path}`);
  };

  const service = await startHttpService({
    name: 'agent',
    host: options.host,
    port: options.port,
    routes,
    onError: (error, req) => {
      if (isMcpWarmError(error) && error.code === 'AUTH_REQUIRED') audit.write({ action: 'refuse', caller: callerOf(req), result: 'error', code: error.code });
    },
  });

  return {
    url: service.url,
    port: service.port,
    sandbox: sandbox.name,
    instances: () => [...instances.values()],
    close: async () => {
      await service.close();
      await Promise.all([...instances.values()].map(remove));
      await audit.close();
    },
  };
}

async function ready(res: ServerResponse, cacheDir: string, sandbox: SandboxName): Promise<void> {
  const cacheWritable = await access(cacheDir, constants.W_OK).then(
    () => true,
    () => false,
  );
  const sandboxes = await sandboxReport();
  const sandboxUsable = sandboxes.find((s) => s.name === sandbox)?.available ?? false;
  sendJson(res, cacheWritable && sandboxUsable ? 200 : 503, { ready: cacheWritable && sandboxUsable, cacheWritable, sandbox, sandboxes });
}

/**
 * Takes down what an agent that died left behind: the servers of its instances (whatever sandbox
 * ran them), their rootfs mounts and scratch.
 */
async function recoverFromCrash(cache: ImageCache, instancesDir: string): Promise<void> {
  await cache.clearTemporary();
  await sweepInstances(instancesDir);
  for (const record of await cache.rootfs.list()) {
    if (record.target.startsWith(`${instancesDir}/`)) await releaseMaterializedRootfs(cache, record.target).catch(() => undefined);
  }
  await rm(instancesDir, { recursive: true, force: true });
  await mkdir(instancesDir, { recursive: true });
}


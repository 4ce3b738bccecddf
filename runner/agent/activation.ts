/**
 * One activation, phase by phase: image allowed? -> pull (resolve, pull, unpack; cache hits cost
 * nothing) -> compose the rootfs (mount) -> launch in the sandbox (start) -> MCP initialize
 * answered (initialize). Anything that fails takes down what the earlier phases built, so a failed
 * activation leaves no process, mount, bundle or scratch directory behind.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CleanupStack } from '../cleanup-stack.js';
import { McpWarmError } from '../errors.js';
import type { ImageCache } from '../oci/cache/image-cache.js';
import { materializeRootfs, releaseMaterializedRootfs } from '../oci/materialize.js';
import type { PulledImage } from '../oci/puller.js';
import type { ContainerConfig } from '../oci/types.js';
import { StderrBuffer } from '../mcp/stderr-buffer.js';
import { StdioMcpConnection } from '../mcp/stdio-connection.js';
import { probeReadiness } from '../mcp/initialize.js';
import { createStreamableHttpEndpoint } from '../mcp/http/streamable-http-endpoint.js';
import { resolveEntrypoint, resolveImageUser } from '../sandbox/image-user.js';
import type { LaunchSpec, Sandbox } from '../sandbox/types.js';
import type { ImageAllowlist } from './access.js';
import type { ActivationRequest } from './activation-request.js';
import { layerCacheCounts, type ImagePulls } from './image-pulls.js';
import { Instance, phasesFrom, type InstanceInfo } from './instance.js';

export interface ActivationContext {
  cache: ImageCache;
  /** Pulls into `cache`, shared with prefetches of the same image. */
  images: ImagePulls;
  sandbox: Sandbox;
  allowlist: ImageAllowlist;
  /** Where each instance's rootfs and sandbox scratch go (`<dir>/<instanceId>/`). */
  instancesDir: string;
  stopGraceMs: number;
  maxBodyBytes: number;
  defaultReadinessTimeoutMs: number;
  /** Added to every activation after initialize (`agent --inject-delay-ms`), so a regression gate's detection can be measured. */
  injectDelay?: InjectedDelay;
  /** Refuses an id already in use (checked before anything is built). */
  reserveId(id: string): () => void;
}

/**
 * A deliberate slowdown: a fixed number of ms, or a share of the activation's own time so far,
 * which stays the same relative slowdown however loaded the machine is.
 */
export type InjectedDelay = { ms: number } | { fraction: number };

/** `20` (ms) or `20%` (of each activation's own time); undefined for 0. */
export function parseInjectedDelay(text: string): InjectedDelay | undefined {
  const match = /^(\d+(?:\.\d+)?)(%?)$/.exec(text.trim());
  if (!match) throw new McpWarmError('USAGE_INVALID', `--inject-delay-ms ${text}: expected milliseconds (20) or a share of each activation's own time (20%)`);
  const value = Number(match[1]);
  if (value === 0) return undefined;
  return match[2] === '%' ? { fraction: value / 100 } : { ms: value };
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Docker's rules: an entrypoint override drops the image's Cmd unless a command is given too. */
export function commandLine(config: ContainerConfig, request: Pick<ActivationRequest, 'entrypoint' | 'command'>): string[] {
  const entrypoint = request.entrypoint ?? config.Entrypoint ?? [];
  const cmd = request.command ?? (request.entrypoint ? [] : (config.Cmd ?? []));
  return [...entrypoint, ...cmd];
}

/** The image's Env with the request's variables set over it, as KEY=VALUE (PATH defaulted). */
export function environment(config: ContainerConfig, overrides: Record<string, string> = {}): string[] {
  const merged = new Map<string, string>();
  for (const item of config.Env ?? []) {
    const at = item.indexOf('=');
    if (at > 0) merged.set(item.slice(0, at), item.slice(at + 1));
  }
  for (const [name, value] of Object.entries(overrides)) merged.set(name, value);
  if (!merged.has('PATH')) merged.set('PATH', DEFAULT_PATH);
  return [...merged].map(([name, value]) => `${name}=${value}`);
}

export async function activate(context: ActivationContext, request: ActivationRequest): Promise<Instance> {
  const start = performance.now();
  context.allowlist.check(request.image);
  const instanceId = request.instanceId ?? `i-${randomBytes(6).toString('hex')}`;
  const cleanup = new CleanupStack();
  cleanup.push('instance id', context.reserveId(instanceId));
  try {
    const image = await context.images.pull(request.image);
    const home = join(context.instancesDir, instanceId);
    await mkdir(join(home, 'sandbox'), { recursive: true });
    cleanup.push('scratch', () => rm(home, { recursive: true, force: true }));

    const mountStart = performance.now();
    const rootfs = await materializeRootfs(context.cache, image, join(home, 'rootfs'), 'auto');
    cleanup.push('rootfs', () => releaseMaterializedRootfs(context.cache, rootfs.target));
    const mountMs = performance.now() - mountStart;

    const launchStart = performance.now();
    const spec = await launchSpec(instanceId, rootfs.target, join(home, 'sandbox'), image, request);
    const process = await context.sandbox.launch(spec);
    cleanup.push('process', () => process.stop(context.stopGraceMs));
    const stderr = new StderrBuffer(process.stderr);
    const connection = new StdioMcpConnection(process);
    cleanup.push('connection', () => connection.close());
    const startMs = performance.now() - launchStart;

    const readiness = await probeReadiness(connection, {
      timeoutMs: request.readiness?.timeoutMs ?? context.defaultReadinessTimeoutMs,
      toolsList: request.readiness?.toolsList ?? false,
      stderrTail: () => stderr.tail(20),
      exited: process.exited,
    });
    const endpoint = createStreamableHttpEndpoint({
      backend: connection,
      initialize: readiness,
      maxBodyBytes: context.maxBodyBytes,
      maxSessions: 1,
    });
    cleanup.push('endpoint', () => endpoint.close());
    const injectedDelayMs = await injectDelay(context.injectDelay, performance.now() - start);

    const info: InstanceInfo = {
      instanceId,
      pid: process.pid,
      image: { ref: image.reference, digest: image.digest },
      sandbox: context.sandbox.name,
      phases: phasesFrom(image.phases, { mountMs, startMs, initializeMs: readiness.initializeMs, ...injectedDelayMs, totalMs: performance.now() - start }),
      cache: layerCacheCounts(image),
      serverInfo: readiness.serverInfo,
      protocolVersion: readiness.protocolVersion,
      endpoint: `/instances/${instanceId}/mcp`,
      createdAt: new Date().toISOString(),
      state: 'running',
    };
    return new Instance(
      info,
      {
        process,
        handleMcp: (req, res) => endpoint.handle(req, res),
        logs: () => stderr.text(),
        // The process is stopped by Instance.stop() first; the rest of the stack comes down after it.
        teardown: async () => {
          await cleanup.run();
        },
      },
      context.stopGraceMs,
    );
  } catch (error) {
    await cleanup.run();
    throw error;
  }
}

/** Sleeps the injected delay and reports it as its own phase, so nobody mistakes it for the server's time. */
async function injectDelay(delay: InjectedDelay | undefined, elapsedMs: number): Promise<{ injectedDelayMs?: number }> {
  if (delay === undefined) return {};
  const delayStart = performance.now();
  await sleep('ms' in delay ? delay.ms : delay.fraction * elapsedMs);
  return { injectedDelayMs: performance.now() - delayStart };
}

async function launchSpec(id: string, rootfs: string, workDir: string, image: PulledImage, request: ActivationRequest): Promise<LaunchSpec> {
  const config = image.config.config ?? {};
  const argv = commandLine(config, request);
  if (argv.length === 0) {
    throw new McpWarmError('ENTRYPOINT_NOT_FOUND', `image ${image.reference} has no Entrypoint or Cmd and the request gives none`);
  }
  const env = environment(config, request.env);
  const path = env.find((item) => item.startsWith('PATH='))!.slice('PATH='.length);
  const cwd = request.workingDir ?? (config.WorkingDir || '/');
  const program = await resolveEntrypoint(rootfs, argv[0]!, path, cwd);
  return {
    id,
    rootfs,
    argv: [program, ...argv.slice(1)],
    env,
    cwd,
    user: await resolveImageUser(rootfs, config.User ?? ''),
    limits: request.limits ?? {},
    network: request.network ?? false,
    workDir,
  };
}

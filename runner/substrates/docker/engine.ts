/** The Docker Engine API client (dockerode) on a unix socket, and its failures as coded errors. */
import Docker from 'dockerode';
import { McpWarmError } from '../../errors.js';

const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/** Socket errors that mean nothing (or nothing that speaks HTTP) answers on the engine's socket. */
const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTSOCK', 'HPE_INVALID_CONSTANT']);

/** The engine's socket as DOCKER_HOST names it (unix:// only), else the default one. */
export function dockerSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST;
  if (host === undefined || host === '') return DEFAULT_DOCKER_SOCKET;
  if (!host.startsWith('unix://')) {
    throw new McpWarmError('USAGE_INVALID', `DOCKER_HOST=${host}: only unix:// sockets are supported`, { details: { dockerHost: host } });
  }
  return host.slice('unix://'.length);
}

export function dockerClient(socketPath: string): Docker {
  return new Docker({ socketPath });
}

function engineStatus(error: unknown): number | undefined {
  return (error as { statusCode?: unknown }).statusCode as number | undefined;
}

/** DOCKER_UNAVAILABLE when the engine cannot be reached, SUBSTRATE_FAILED when it refused `what`. */
export function engineError(error: unknown, what: string, socketPath: string): McpWarmError {
  if (error instanceof McpWarmError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== undefined && UNREACHABLE.has(code)) {
    return new McpWarmError('DOCKER_UNAVAILABLE', `no Docker engine answers on ${socketPath} (${what}: ${code})`, { cause: error, details: { socketPath } });
  }
  return new McpWarmError('SUBSTRATE_FAILED', `docker: ${what} failed: ${(error as Error).message}`, {
    cause: error,
    details: { socketPath, ...(engineStatus(error) !== undefined ? { status: engineStatus(error) } : {}) },
  });
}

/** Runs an engine call; its failure becomes engineError's coded error. */
export async function engineCall<T>(socketPath: string, what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw engineError(error, what, socketPath);
  }
}

/**
 * An engine call on something that may be gone: undefined on 404, and on the `also` statuses
 * (such as 304, "already stopped"); any other failure is coded as engineError does.
 */
export async function engineCallIfPresent<T>(socketPath: string, what: string, call: () => Promise<T>, also: readonly number[] = []): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    const status = engineStatus(error);
    if (status === 404 || (status !== undefined && also.includes(status))) return undefined;
    throw engineError(error, what, socketPath);
  }
}

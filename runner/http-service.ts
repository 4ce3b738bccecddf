/**
 * The HTTP service around the agent's and the controller's routes: a coded error answer for every
 * failure (unexpected ones also logged with their stack), listening, and a close that ends
 * open connections (SSE streams included) instead of waiting for them.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bearerMatches } from './agent/access.js';
import { McpWarmError, isMcpWarmError } from './errors.js';
import { sendError } from './http-json.js';

export interface HttpService {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Paths every service answers without a token. */
const PUBLIC_PATHS = new Set(['/health', '/ready', '/metrics']);

/** AUTH_REQUIRED unless the path is public, the service has no token, or the request carries it. */
export function requireBearer(req: IncomingMessage, path: string, token: string | undefined): void {
  if (!PUBLIC_PATHS.has(path) && token !== undefined && !bearerMatches(req.headers.authorization, token)) {
    throw new McpWarmError('AUTH_REQUIRED', 'missing or wrong bearer token');
  }
}

export async function startHttpService(options: {
  /** Names the service in logged stacks. */
  name: string;
  host: string;
  port: number;
  routes(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Sees every failure before it is answered (audit, extra headers). */
  onError?(error: unknown, req: IncomingMessage, res: ServerResponse): void;
}): Promise<HttpService> {
  const server = createServer((req, res) => {
    options.routes(req, res).catch((error: unknown) => {
      options.onError?.(error, req, res);
      if (!isMcpWarmError(error)) process.stderr.write(`${options.name}: ${(error as Error).stack ?? String(error)}\n`);
      sendError(res, error);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

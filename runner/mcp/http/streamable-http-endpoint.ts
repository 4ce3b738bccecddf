/**
 * MCP Streamable HTTP in front of ONE stdio server that the readiness probe has already
 * initialized (the agent's instance): every request goes straight to it (no queue), ids and
 * progress tokens rewritten. Clients' initialize requests are answered from the probe's result, so
 * the server never sees a second initialize. The front (front.ts) speaks both revisions.
 *
 * Sessions beyond maxSessions get 409 SESSION_CONFLICT, unless one has been idle (nothing in
 * flight, no GET stream, no request) for sessionIdleTimeoutMs: it then gives way. Once the server
 * has exited, requests in flight get a JSON-RPC error (-32000) saying so, streams close, and new
 * POSTs and GETs get 502 (SERVER_EXITED); after close(), 503.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readiness } from '../initialize.js';
import type { BackendChannel } from './backend-channel.js';
import { BackendRouter, BackendState } from './backend-router.js';
import { createMcpHttpFront } from './front.js';
import { McpHttpError } from './http-io.js';
import type { ListenStream } from './listen-stream.js';
import { SessionTable, type McpSession } from './session.js';
import type { McpUpstream } from './upstream.js';

export interface StreamableHttpEndpointOptions {
  /** The server's connection, already initialized by probeReadiness. */
  backend: BackendChannel;
  /** The probe's result: clients' initialize requests are answered with its initializeResult. */
  initialize: Pick<Readiness, 'initializeResult'>;
  maxBodyBytes: number;
  /** How many client sessions may be open at once. */
  maxSessions: number;
  /**
   * A session idle this long (nothing in flight, no GET stream, no request) is ended when a new
   * client needs its place: a client that vanished without DELETE cannot hold an endpoint forever.
   */
  sessionIdleTimeoutMs?: number;
}

export interface StreamableHttpEndpoint {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Ends every session (cancelling what is in flight) and stops listening to the backend, which stays open. */
  close(): Promise<void>;
  readonly sessionCount: number;
}

const DEFAULT_SESSION_IDLE_TIMEOUT_MS = 5 * 60_000;

function firstOf(sessions: SessionTable): McpSession | undefined {
  for (const session of sessions) return session;
  return undefined;
}

export function createStreamableHttpEndpoint(options: StreamableHttpEndpointOptions): StreamableHttpEndpoint {
  const { maxSessions } = options;
  const sessions = new SessionTable((live, requestId) =>
    live >= maxSessions
      ? new McpHttpError(409, 'SESSION_CONFLICT', `this MCP endpoint takes ${maxSessions} client session${maxSessions === 1 ? '' : 's'} at a time`, { id: requestId })
      : undefined,
  );
  const listeners = new Set<ListenStream>();
  const initializeResult = options.initialize.initializeResult;
  const router = new BackendRouter(options.backend, {
    ids: 'rewrite',
    state: new BackendState(),
    audience: { sessions: () => sessions, soleSession: () => (sessions.size === 1 ? firstOf(sessions) : undefined), listeners: () => listeners },
  });
  const onBackendClose = () => {
    for (const session of sessions) session.end();
    for (const stream of listeners) stream.end();
  };
  options.backend.on('close', onBackendClose);

  const upstream: McpUpstream = {
    refusal(id) {
      const gone = router.gone;
      if (gone === undefined) return undefined;
      return new McpHttpError(502, 'SERVER_EXITED', `${gone}; this instance takes no more requests`, {
        id,
        hint: 'The MCP server is no longer running; see its logs and start a new instance.',
      });
    },
    openSession: async () => initializeResult,
    submit: (call) => router.attach(call),
    notify: (_session, notification) => router.notify(notification),
    endSession: async (session, reason) => router.endSession(session, reason),
    discover: async () => initializeResult,
    async listen(stream) {
      listeners.add(stream);
      return router.listen(stream, initializeResult.capabilities);
    },
    unlisten(stream) {
      listeners.delete(stream);
      router.unsubscribeListener(stream);
    },
  };
  const front = createMcpHttpFront({
    upstream,
    sessions,
    maxBodyBytes: options.maxBodyBytes,
    idle: { timeoutMs: options.sessionIdleTimeoutMs ?? DEFAULT_SESSION_IDLE_TIMEOUT_MS, streamKeepsAlive: true },
  });

  return {
    handle: (req, res) => front.handle(req, res),
    async close() {
      await front.close('the instance is stopping');
      router.detach();
      options.backend.off('close', onBackendClose);
    },
    get sessionCount() {
      return front.sessionCount;
    },
  };
}

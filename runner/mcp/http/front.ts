/**
 * The server side of MCP Streamable HTTP, both revisions, chosen per request from what the
 * client sends (revision.ts), in front of an McpUpstream. Mount `handle` at any path.
 *
 * Sessions (2025-11-25 and older):
 * POST  initialize (no Mcp-Session-Id): opens a session if the admission policy lets it, answered
 *       with the upstream's initialize result and the Mcp-Session-Id header.
 * POST  anything else needs Mcp-Session-Id (missing: 400; unknown or ended: 404). A notification
 *       or a response: 202, no body. A request: answered as application/json, or, when Accept
 *       names text/event-stream and there is something to stream (progress before the answer, or
 *       no answer yet after a moment), as one SSE stream (see reply.ts).
 * GET   (Accept: text/event-stream): the session's standalone stream for server notifications and
 *       server -> client requests; one at a time (409 for another). It never carries answers.
 * DELETE ends the session (204): its requests are cancelled on the servers.
 *
 * Stateless (2026-07-28): every POST stands alone; `server/discover` is answered from the
 * upstream's initialize result, `subscriptions/listen` opens a listen stream, other requests go
 * to the upstream with the 2026-07-28 `_meta` keys removed and come back with a resultType.
 * Closing a response stream cancels its request. GET and DELETE: 405.
 *
 * A MCP-Protocol-Version header, when sent, must name a supported revision (400). Bodies over
 * maxBodyBytes: 413. Not JSON: 400 with a JSON-RPC parse error (-32700). Batches (JSON arrays),
 * which MCP dropped in 2025-06-18: 400 (-32600). Error bodies are JSON-RPC error objects; see
 * http-io.ts. After close(), 503.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isMcpWarmError } from '../../errors.js';
import {
  errorResponse,
  isJsonObject,
  isJsonRpcId,
  isNotification,
  isRequest,
  JSONRPC_ERROR,
  toJsonRpcMessage,
  type JsonObject,
  type JsonRpcId,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../jsonrpc.js';
import { ClientCall } from './client-call.js';
import { acceptsEventStream, header, McpHttpError, readBody, sendError, sendJson } from './http-io.js';
import { parseListenFilter } from './listen-filter.js';
import { ListenStream } from './listen-stream.js';
import { discoverResult, forSessionServer, removedInStateless, revisionOf, STATELESS_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS, withResultType } from './revision.js';
import { idKey, McpSession, type ClientDeclaration, type SessionTable } from './session.js';
import type { McpUpstream } from './upstream.js';

export interface IdlePolicy {
  /** A session with nothing in flight and no request for this long is idle. */
  timeoutMs: number;
  /** Whether an open GET stream keeps a session from being idle. */
  streamKeepsAlive: boolean;
  /** Ends idle sessions this often; otherwise only when a new session is opened. */
  reapEveryMs?: number;
}

export interface McpHttpFrontOptions {
  upstream: McpUpstream;
  /** The session table, shared with the upstream (its audiences). */
  sessions: SessionTable;
  maxBodyBytes: number;
  idle: IdlePolicy;
  /** 2026-07-28 requests carrying the same value of this header are one client to the upstream. */
  statelessKeyHeader?: string;
}

export interface McpHttpFront {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Ends every session and listen stream (cancelling what is in flight); new requests get 503 saying `reason`. */
  close(reason: string): Promise<void>;
  readonly sessionCount: number;
}

/** The JSON-RPC code MCP SDK servers answer an unknown session with. */
const SESSION_NOT_FOUND_RPC_CODE = -32001;

function invalid(message: string, id: JsonRpcId | null = null, rpcCode: number = JSONRPC_ERROR.invalidRequest): McpHttpError {
  return new McpHttpError(400, 'REQUEST_INVALID', message, { rpcCode, id });
}

/** A coded failure (a server that cannot start...) as an answer to the request with `id`. */
function answerable(error: unknown, id: JsonRpcId): unknown {
  if (error instanceof McpHttpError || !isMcpWarmError(error)) return error;
  return new McpHttpError(error.httpStatus, error.code, error.message, { id, hint: error.hint });
}

function declarationOf(params: JsonObject | undefined): ClientDeclaration {
  return {
    capabilities: isJsonObject(params?.capabilities) ? params.capabilities : {},
    ...(isJsonObject(params?.clientInfo) ? { clientInfo: params.clientInfo } : {}),
    ...(typeof params?.protocolVersion === 'string' ? { protocolVersion: params.protocolVersion } : {}),
  };
}

export function createMcpHttpFront(options: McpHttpFrontOptions): McpHttpFront {
  const { upstream, sessions } = options;
  const listeners = new Set<ListenStream>();
  let closedReason: string | undefined;
  const reaper =
    options.idle.reapEveryMs === undefined
      ? undefined
      : setInterval(() => void endIdle().catch(() => undefined), options.idle.reapEveryMs).unref();

  function refuse(id: JsonRpcId | null = null, session?: McpSession): void {
    if (closedReason !== undefined) throw new McpHttpError(503, 'SERVER_EXITED', `this MCP endpoint is closed: ${closedReason}`, { id });
    const refusal = upstream.refusal(id, session);
    if (refusal) throw refusal;
  }

  function checkProtocolVersion(req: IncomingMessage): void {
    const version = header(req, 'mcp-protocol-version');
    if (version !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
      throw invalid(`unsupported MCP-Protocol-Version ${JSON.stringify(version)}; known: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}`);
    }
  }

  function requireSession(req: IncomingMessage): McpSession {
    const id = header(req, 'mcp-session-id');
    if (id === undefined) throw invalid('the Mcp-Session-Id header is missing; start a session with initialize first', null, JSONRPC_ERROR.server);
    const session = sessions.get(id);
    if (!session) {
      throw new McpHttpError(404, 'SESSION_NOT_FOUND', 'no session has this Mcp-Session-Id: it ended or never existed', { rpcCode: SESSION_NOT_FOUND_RPC_CODE });
    }
    return session;
  }

  async function endSession(session: McpSession, reason: string): Promise<void> {
    if (!sessions.remove(session)) return;
    for (const call of [...session.calls.values()]) call.abandon(reason, false);
    await upstream.endSession(session, reason);
    session.serverRequests.clear();
    session.end();
  }

  async function endIdle(): Promise<void> {
    const idle = sessions.idle(options.idle.timeoutMs, options.idle.streamKeepsAlive);
    await Promise.all(idle.map((session) => endSession(session, 'the session was idle')));
  }

  function submit(session: McpSession, request: JsonRpcRequest, res: ServerResponse, streaming: boolean, shape?: (response: JsonRpcResponse) => JsonRpcResponse): void {
    if (session.calls.has(idKey(request.id))) {
      throw invalid(`request id ${JSON.stringify(request.id)} is already used by a request in flight in this session`, request.id);
    }
    upstream.submit(new ClientCall(session, request, res, streaming, shape));
  }

  async function initialize(req: IncomingMessage, res: ServerResponse, request: JsonRpcRequest): Promise<void> {
    if (header(req, 'mcp-session-id') !== undefined) throw invalid('initialize starts a session: send it without Mcp-Session-Id', request.id);
    refuse(request.id);
    await endIdle();
    const session = sessions.open(request.id, declarationOf(request.params));
    let result: JsonObject;
    try {
      result = await upstream.openSession(session);
    } catch (error) {
      await endSession(session, 'the session could not be opened');
      throw answerable(error, request.id);
    } finally {
      session.opening = false;
      session.touch();
    }
    if (!sessions.has(session)) {
      // The front closed while the session was being opened: what was opened for it goes too.
      await upstream.endSession(session, 'the MCP endpoint closed');
      refuse(request.id);
    }
    sendJson(res, 200, { jsonrpc: '2.0', id: request.id, result }, { 'mcp-session-id': session.id });
  }

  function clientNotification(session: McpSession, notification: JsonRpcNotification): void {
    if (notification.method !== 'notifications/cancelled') {
      upstream.notify(session, notification);
      return;
    }
    const { requestId, reason } = notification.params ?? {};
    if (isJsonRpcId(requestId)) session.calls.get(idKey(requestId))?.abandon(typeof reason === 'string' ? reason : 'cancelled by the client', false);
  }

  function clientResponse(session: McpSession, response: JsonRpcResponse): void {
    const key = response.id === null ? undefined : idKey(response.id);
    const pending = key === undefined ? undefined : session.serverRequests.get(key);
    if (!pending) {
      throw invalid(`no server request with id ${JSON.stringify(response.id)} is waiting for an answer in this session`);
    }
    session.serverRequests.delete(key!);
    pending.deliver(response);
  }

  async function listen(req: IncomingMessage, res: ServerResponse, request: JsonRpcRequest, session: McpSession): Promise<void> {
    if (!acceptsEventStream(req)) throw new McpHttpError(406, 'REQUEST_INVALID', 'subscriptions/listen answers with an event stream: send Accept: text/event-stream', { id: request.id });
    const filter = parseListenFilter(request.params);
    if (typeof filter === 'string') throw invalid(filter, request.id, JSONRPC_ERROR.invalidParams);
    const stream = new ListenStream(res, request.id, filter);
    listeners.add(stream);
    let started = false;
    stream.onClientGone(() => {
      listeners.delete(stream);
      if (started) upstream.unlisten(stream);
    });
    try {
      const agreed = await upstream.listen(stream, session);
      started = true;
      if (!stream.open) {
        listeners.delete(stream);
        upstream.unlisten(stream);
        return;
      }
      stream.acknowledge(agreed);
    } catch (error) {
      listeners.delete(stream);
      throw answerable(error, request.id);
    }
  }

  async function stateless(req: IncomingMessage, res: ServerResponse, request: JsonRpcRequest, client: ClientDeclaration): Promise<void> {
    const removed = removedInStateless(request.method);
    if (removed !== undefined) return sendJson(res, 200, errorResponse(request.id, JSONRPC_ERROR.methodNotFound, removed));
    const key = options.statelessKeyHeader === undefined ? undefined : header(req, options.statelessKeyHeader);
    const session = McpSession.stateless(client, key);
    refuse(request.id);
    if (request.method === 'server/discover') {
      try {
        return sendJson(res, 200, { jsonrpc: '2.0', id: request.id, result: discoverResult(await upstream.discover(session)) });
      } catch (error) {
        throw answerable(error, request.id);
      }
    }
    refuse(request.id, session);
    if (request.method === 'subscriptions/listen') return listen(req, res, request, session);
    submit(session, forSessionServer(request), res, acceptsEventStream(req), withResultType);
  }

  async function post(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, options.maxBodyBytes);
    let value: unknown;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch (error) {
      throw invalid(`Parse error: the body is not JSON (${(error as Error).message})`, null, JSONRPC_ERROR.parse);
    }
    if (Array.isArray(value)) throw invalid('JSON-RPC batches are not supported (MCP removed them in 2025-06-18): POST one message at a time');
    const message = toJsonRpcMessage(value);
    if (typeof message === 'string') {
      const id = (value as { id?: unknown }).id;
      throw invalid(`Invalid Request: ${message}`, isJsonRpcId(id) ? id : null);
    }
    const revision = revisionOf({ protocolVersion: header(req, 'mcp-protocol-version'), method: header(req, 'mcp-method'), name: header(req, 'mcp-name') }, message);
    if (revision.kind === 'stateless') {
      // A notification has no session to belong to: cancelling is closing the request's stream.
      if (isRequest(message)) return stateless(req, res, message, revision.client);
      res.writeHead(202).end();
      return;
    }
    if (isRequest(message) && message.method === 'initialize') return initialize(req, res, message);
    const session = requireSession(req);
    if (isRequest(message)) {
      refuse(message.id, session);
      submit(session, message, res, acceptsEventStream(req));
      return;
    }
    refuse();
    if (isNotification(message)) clientNotification(session, message);
    else clientResponse(session, message);
    res.writeHead(202).end();
  }

  function get(req: IncomingMessage, res: ServerResponse): void {
    if (!acceptsEventStream(req)) throw new McpHttpError(406, 'REQUEST_INVALID', 'GET opens an event stream: send Accept: text/event-stream');
    const session = requireSession(req);
    refuse();
    session.openStream(
      res,
      () => new McpHttpError(409, 'SESSION_CONFLICT', 'this session already has an open GET stream', { hint: 'A session has one standalone stream at a time; close the open one first.' }),
    );
  }

  return {
    async handle(req, res) {
      try {
        checkProtocolVersion(req);
        const stateless = header(req, 'mcp-protocol-version') === STATELESS_PROTOCOL_VERSION;
        if (req.method === 'POST') await post(req, res);
        else if (stateless && (req.method === 'GET' || req.method === 'DELETE')) {
          throw new McpHttpError(405, 'REQUEST_INVALID', `MCP ${STATELESS_PROTOCOL_VERSION} has no ${req.method}: POST requests, and subscriptions/listen for notifications`, {
            headers: { allow: 'POST' },
          });
        } else if (req.method === 'GET') get(req, res);
        else if (req.method === 'DELETE') {
          await endSession(requireSession(req), 'the client ended its session');
          res.writeHead(204).end();
        } else {
          throw new McpHttpError(405, 'REQUEST_INVALID', `${req.method} is not an MCP Streamable HTTP method: use POST, GET or DELETE`);
        }
      } catch (error) {
        sendError(res, error);
      }
    },

    async close(reason) {
      if (closedReason !== undefined) return;
      closedReason = reason;
      if (reaper) clearInterval(reaper);
      await Promise.all([...sessions].map((session) => endSession(session, 'the MCP endpoint closed')));
      for (const stream of [...listeners]) {
        listeners.delete(stream);
        stream.end();
        upstream.unlisten(stream);
      }
    },

    get sessionCount() {
      return sessions.size;
    },
  };
}

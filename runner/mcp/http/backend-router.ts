/**
 * Shares one stdio MCP server between client sessions. Client request ids and progress tokens are
 * replaced by ids from the backend connection's own counter (unique across sessions and the
 * connection's own requests) and restored on the way back, so `1` and `"1"` from two clients, or
 * from one, never meet. Server messages go where they belong:
 *  - an answer: to the reply of the request it answers;
 *  - `notifications/progress`: to the reply of the request whose token it names (dropped for a
 *    plain JSON reply, which cannot carry it);
 *  - other notifications: to every session's GET stream, once each;
 *  - a server -> client request (sampling, elicitation, roots/list): stdio does not say which
 *    client request it serves, so it goes with the newest request in flight (a serial server works
 *    on one at a time): on that request's stream if it has one, else on its session's GET stream.
 *    With nothing in flight it goes to the first session; with no session the server gets an error.
 */
import type { ServerResponse } from 'node:http';
import {
  errorResponse,
  isJsonObject,
  isJsonRpcId,
  isRequest,
  isResponse,
  JSONRPC_ERROR,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../jsonrpc.js';
import type { ConnectionClosedError, StdioMcpConnection } from '../stdio-connection.js';
import { McpHttpError } from './http-io.js';
import { openReply, type MessageSink } from './reply.js';
import { idKey, type InFlightRequest, type McpSession } from './session.js';

export class BackendRouter {
  private readonly byBackendId = new Map<number, InFlightRequest>();
  private readonly onMessage = (message: JsonRpcMessage) => this.fromBackend(message);
  private readonly onClose = (error: ConnectionClosedError) => this.backendGone(error);

  constructor(
    private readonly backend: StdioMcpConnection,
    private readonly sessions: Iterable<McpSession>,
  ) {
    backend.on('message', this.onMessage);
    backend.on('close', this.onClose);
  }

  /** Why the backend takes no more requests, once it does not. */
  get gone(): string | undefined {
    return this.backend.closed?.message;
  }

  /** Sends a client's request to the backend; its answer, and its progress when streaming, go to `res`. */
  forward(session: McpSession, request: JsonRpcRequest, res: ServerResponse, streaming: boolean): void {
    const key = idKey(request.id);
    if (session.inFlight.has(key)) {
      throw new McpHttpError(400, 'REQUEST_INVALID', `request id ${JSON.stringify(request.id)} is already used by a request in flight in this session`, {
        rpcCode: JSONRPC_ERROR.invalidRequest,
        id: request.id,
      });
    }
    const backendId = this.backend.reserveId();
    const meta = isJsonObject(request.params?._meta) ? request.params._meta : undefined;
    const clientProgressToken = isJsonRpcId(meta?.progressToken) ? meta.progressToken : undefined;
    const entry: InFlightRequest = {
      session,
      backendId,
      clientId: request.id,
      clientProgressToken,
      reply: openReply(res, streaming, () => this.cancel(entry, 'the HTTP client disconnected')),
    };
    session.inFlight.set(key, entry);
    this.byBackendId.set(backendId, entry);
    const params = clientProgressToken === undefined ? request.params : { ...request.params, _meta: { ...meta, progressToken: backendId } };
    this.backend.send(params === undefined ? { ...request, id: backendId } : { ...request, id: backendId, params });
  }

  fromClientNotification(session: McpSession, notification: JsonRpcNotification): void {
    // The probe already sent the one notifications/initialized the server expects.
    if (notification.method === 'notifications/initialized') return;
    if (notification.method === 'notifications/cancelled') {
      const requestId = notification.params?.requestId;
      const entry = isJsonRpcId(requestId) ? session.inFlight.get(idKey(requestId)) : undefined;
      const reason = notification.params?.reason;
      if (entry) this.cancel(entry, typeof reason === 'string' ? reason : 'cancelled by the client');
      return;
    }
    this.backend.send(notification);
  }

  /** A client's answer to a server -> client request sent to this session. */
  fromClientResponse(session: McpSession, response: JsonRpcResponse): void {
    const key = response.id === null ? undefined : idKey(response.id);
    if (key === undefined || !session.serverRequests.delete(key)) {
      throw new McpHttpError(400, 'REQUEST_INVALID', `no server request with id ${JSON.stringify(response.id)} is waiting for an answer in this session`, {
        rpcCode: JSONRPC_ERROR.invalidRequest,
      });
    }
    this.backend.send(response);
  }

  /** The backend cancels the session's requests; its requests to the client fail; its GET stream closes. */
  endSession(session: McpSession, reason: string): void {
    for (const entry of [...session.inFlight.values()]) this.cancel(entry, reason);
    if (!this.gone) {
      for (const pending of session.serverRequests.values()) this.backend.send(errorResponse(pending.id, JSONRPC_ERROR.server, reason));
    }
    session.serverRequests.clear();
    session.end();
  }

  /** Stops listening to the backend (which stays open: its owner closes it). */
  detach(): void {
    this.backend.off('message', this.onMessage);
    this.backend.off('close', this.onClose);
  }

  private cancel(entry: InFlightRequest, reason: string): void {
    if (!this.release(entry)) return;
    if (!this.gone) this.backend.notify('notifications/cancelled', { requestId: entry.backendId, reason });
    entry.reply.cancel(errorResponse(entry.clientId, JSONRPC_ERROR.server, `the request was cancelled: ${reason}`));
  }

  /** Forgets a request in flight; false when it was already answered or cancelled. */
  private release(entry: InFlightRequest): boolean {
    if (this.byBackendId.get(entry.backendId) !== entry) return false;
    this.byBackendId.delete(entry.backendId);
    entry.session.inFlight.delete(idKey(entry.clientId));
    return true;
  }

  private fromBackend(message: JsonRpcMessage): void {
    if (isResponse(message)) this.answer(message);
    else if (isRequest(message)) this.serverRequest(message);
    else this.serverNotification(message);
  }

  private answer(response: JsonRpcResponse): void {
    const entry = typeof response.id === 'number' ? this.byBackendId.get(response.id) : undefined;
    // Anything else answers a request that was cancelled meanwhile.
    if (!entry || !this.release(entry)) return;
    entry.reply.finish({ ...response, id: entry.clientId });
  }

  private serverNotification(notification: JsonRpcNotification): void {
    const params = notification.params;
    if (notification.method === 'notifications/progress') {
      const token = params?.progressToken;
      const entry = typeof token === 'number' ? this.byBackendId.get(token) : undefined;
      if (entry?.clientProgressToken !== undefined) entry.reply.send({ ...notification, params: { ...params, progressToken: entry.clientProgressToken } });
      return;
    }
    if (notification.method === 'notifications/cancelled') {
      // The server gave up a request it sent to a client: tell that client only.
      const requestId = params?.requestId;
      if (!isJsonRpcId(requestId)) return;
      for (const session of this.sessions) {
        const pending = session.serverRequests.get(idKey(requestId));
        if (!pending) continue;
        session.serverRequests.delete(idKey(requestId));
        pending.sink.send(notification);
      }
      return;
    }
    for (const session of this.sessions) session.send(notification);
  }

  private serverRequest(request: JsonRpcRequest): void {
    const target = this.targetOf();
    if (!target) {
      this.backend.send(errorResponse(request.id, JSONRPC_ERROR.server, `no MCP client is connected to answer ${request.method}`));
      return;
    }
    target.session.serverRequests.set(idKey(request.id), { id: request.id, sink: target.sink });
    target.sink.send(request);
  }

  private targetOf(): { session: McpSession; sink: MessageSink } | undefined {
    const newest = [...this.byBackendId.values()].at(-1);
    if (newest) return { session: newest.session, sink: newest.reply.streaming && newest.reply.open ? newest.reply : newest.session };
    const [first] = this.sessions;
    return first ? { session: first, sink: first } : undefined;
  }

  private backendGone(error: ConnectionClosedError): void {
    for (const entry of [...this.byBackendId.values()]) {
      this.release(entry);
      entry.reply.finish(errorResponse(entry.clientId, JSONRPC_ERROR.server, `${error.message}; the request was lost`));
    }
    for (const session of this.sessions) {
      session.serverRequests.clear();
      session.end();
    }
  }
}

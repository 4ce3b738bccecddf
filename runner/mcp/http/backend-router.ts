/**
 * Carries client requests to one MCP server and the server's messages back to the right client.
 *
 * Ids: with `rewrite` (a server shared by sessions), a request's id and progress token are
 * replaced by ids from the channel's own counter and restored on the way back, so `1` and `"1"`
 * from two clients, or from one, never meet; with `pass-through` (a server with one session of
 * its own) they go as the client sent them.
 *
 * Server messages (see notification-route.ts for notifications):
 *  - an answer goes to the request it answers, and nowhere else;
 *  - progress goes to the stream of the request whose token it names (dropped for a plain JSON
 *    reply, which cannot carry it);
 *  - list_changed goes to every session and listen stream in the audience, resources/updated to
 *    those that subscribed to the resource;
 *  - a log message or other notification, and a server -> client request (sampling, elicitation,
 *    roots/list), belong to the newest request in flight (stdio does not say which request they
 *    serve; a serial server works on one at a time): they go on its stream if it has one, else on
 *    its session's GET stream. With nothing in flight they go to the only session in the
 *    audience; with several, a notification is dropped and a request refused, never guessed.
 *
 * Per-session state the server keeps for its process (resource subscriptions, the log level) is
 * recorded in a BackendState, which outlives a crashed process: replay() restores it on the next.
 */
import { performance } from 'node:perf_hooks';
import {
  errorResponse,
  isErrorResponse,
  isJsonObject,
  isJsonRpcId,
  isRequest,
  isResponse,
  JSONRPC_ERROR,
  type JsonObject,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../jsonrpc.js';
import type { BackendChannel } from './backend-channel.js';
import type { ClientCall } from './client-call.js';
import { agreedListChanges, canSubscribe, type ListenFilter } from './listen-filter.js';
import type { ListenStream } from './listen-stream.js';
import { routeOf } from './notification-route.js';
import type { MessageSink } from './reply.js';
import { idKey, type McpSession } from './session.js';
import { SubscriptionLedger } from './subscription-ledger.js';

export type IdMode = 'rewrite' | 'pass-through';

/** Who hears a server's messages that answer no request. */
export interface Audience {
  /** Sessions that may use the server (list_changed goes to each). */
  sessions(): Iterable<McpSession>;
  /** The session, when the server has exactly one. */
  soleSession(): McpSession | undefined;
  listeners(): Iterable<ListenStream>;
}

/** What a server holds for its clients beyond one request, kept across restarts of its process. */
export class BackendState {
  readonly subscriptions = new SubscriptionLedger<MessageSink>();
  logLevel: string | undefined;
}

export interface BackendRouterOptions {
  ids: IdMode;
  audience: Audience;
  state: BackendState;
}

interface Attached {
  readonly call: ClientCall;
  readonly backendId: JsonRpcId;
  readonly clientProgressToken: JsonRpcId | undefined;
  readonly backendProgressToken: JsonRpcId | undefined;
  /** Records what a successful answer changed on the server (a subscription, the log level). */
  readonly onSuccess: (() => void) | undefined;
}

interface ServerRequest {
  readonly session: McpSession;
  readonly serverId: JsonRpcId;
  /** The id the client saw: the server's own, unless the session already had one by that id from another server. */
  readonly clientSideId: JsonRpcId;
  readonly sink: MessageSink;
}

/** How long the router's own requests (subscriptions it restores or gives up) may take. */
const OWN_REQUEST_TIMEOUT_MS = 10_000;

let aliasCounter = 0;

export class BackendRouter {
  private readonly byId = new Map<string, Attached>();
  private readonly byToken = new Map<string, Attached>();
  private readonly serverRequests = new Map<string, ServerRequest>();
  private droppedCount = 0;
  private readonly onMessage = (message: JsonRpcMessage) => this.fromBackend(message);
  private readonly onClose = (error: Error) => this.backendGone(error);

  constructor(
    private readonly channel: BackendChannel,
    private readonly options: BackendRouterOptions,
  ) {
    channel.on('message', this.onMessage);
    channel.on('close', this.onClose);
  }

  /** Why the server takes no more requests, once it does not. */
  get gone(): string | undefined {
    return this.channel.closed?.message;
  }

  /** Client requests at the server now. */
  get load(): number {
    return this.byId.size;
  }

  /** Notifications nobody could be given (no request in flight and several sessions). */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Sends a client's request to the server; its answer, and its progress when streaming, go to the call. */
  attach(call: ClientCall): void {
    const request = call.request;
    const uri = typeof request.params?.uri === 'string' ? request.params.uri : undefined;
    const subscriptions = this.options.state.subscriptions;
    if (request.method === 'resources/unsubscribe' && uri !== undefined && subscriptions.heldByOthers(call.session, uri)) {
      // Other sessions of this server still want it: the server keeps it, this session stops hearing of it.
      subscriptions.remove(call.session, uri);
      call.finish({ jsonrpc: '2.0', id: request.id, result: {} });
      return;
    }
    const rewrite = this.options.ids === 'rewrite';
    const backendId = rewrite ? this.channel.reserveId() : request.id;
    const meta = isJsonObject(request.params?._meta) ? request.params._meta : undefined;
    const clientProgressToken = isJsonRpcId(meta?.progressToken) ? meta.progressToken : undefined;
    const backendProgressToken = clientProgressToken !== undefined && rewrite ? backendId : clientProgressToken;
    const entry: Attached = { call, backendId, clientProgressToken, backendProgressToken, onSuccess: this.stateChange(call.session, request) };
    this.byId.set(idKey(backendId), entry);
    if (backendProgressToken !== undefined) this.byToken.set(idKey(backendProgressToken), entry);
    call.attachedAt = performance.now();
    call.holdBy((reason, answer) => this.cancel(entry, reason, answer));
    const params = rewrite && clientProgressToken !== undefined ? { ...request.params, _meta: { ...meta, progressToken: backendProgressToken } } : request.params;
    try {
      this.channel.send(params === undefined ? { ...request, id: backendId } : { ...request, id: backendId, params });
    } catch (error) {
      this.release(entry);
      call.end(`${(error as Error).message}; the request was not sent`, true);
    }
  }

  /** A client notification for the server (cancellations are the calls' business). */
  notify(notification: JsonRpcNotification): void {
    // The probe already sent the one notifications/initialized the server expects.
    if (notification.method === 'notifications/initialized' || this.gone !== undefined) return;
    this.channel.send(notification);
  }

  /** The session's requests here are cancelled, its server -> client requests refused, its subscriptions given up. */
  endSession(session: McpSession, reason: string): void {
    for (const entry of [...this.byId.values()]) if (entry.call.session === session) this.cancel(entry, reason, false);
    for (const [key, pending] of [...this.serverRequests]) {
      if (pending.session !== session) continue;
      this.serverRequests.delete(key);
      session.serverRequests.delete(idKey(pending.clientSideId));
      if (this.gone === undefined) this.channel.send(errorResponse(pending.serverId, JSONRPC_ERROR.server, reason));
    }
    this.giveUp(this.options.state.subscriptions.drop(session));
  }

  /** What a listen stream gets from a server with `capabilities`: the list changes it can send, and the resources it subscribed. */
  async listen(stream: ListenStream, declared: unknown): Promise<ListenFilter> {
    const capabilities = isJsonObject(declared) ? declared : {};
    const agreed = agreedListChanges(stream.requested, capabilities);
    const uris = stream.requested.resourceSubscriptions;
    if (uris === undefined || !canSubscribe(capabilities)) return agreed;
    return { ...agreed, resourceSubscriptions: await this.subscribeListener(stream, uris) };
  }

  unsubscribeListener(stream: ListenStream): void {
    this.giveUp(this.options.state.subscriptions.drop(stream));
  }

  private async subscribeListener(stream: ListenStream, uris: readonly string[]): Promise<string[]> {
    const accepted: string[] = [];
    for (const uri of uris) {
      if (this.options.state.subscriptions.add(stream, uri)) {
        try {
          await this.channel.request('resources/subscribe', { uri }, { timeoutMs: OWN_REQUEST_TIMEOUT_MS });
        } catch {
          this.options.state.subscriptions.remove(stream, uri);
          continue;
        }
      }
      accepted.push(uri);
    }
    return accepted;
  }

  /** Restores the recorded state on a new process of the server (after a crash). */
  async replay(): Promise<void> {
    const { logLevel, subscriptions } = this.options.state;
    const own = (method: string, params: JsonObject) => this.channel.request(method, params, { timeoutMs: OWN_REQUEST_TIMEOUT_MS }).catch(() => undefined);
    if (logLevel !== undefined) await own('logging/setLevel', { level: logLevel });
    for (const uri of subscriptions.uris()) await own('resources/subscribe', { uri });
  }

  /** Stops listening to the server (which stays open: its owner closes it). */
  detach(): void {
    this.channel.off('message', this.onMessage);
    this.channel.off('close', this.onClose);
  }

  private stateChange(session: McpSession, request: JsonRpcRequest): (() => void) | undefined {
    const { subscriptions } = this.options.state;
    const params = request.params;
    if (request.method === 'resources/subscribe' && typeof params?.uri === 'string') return () => void subscriptions.add(session, params.uri as string);
    if (request.method === 'resources/unsubscribe' && typeof params?.uri === 'string') return () => void subscriptions.remove(session, params.uri as string);
    if (request.method === 'logging/setLevel' && typeof params?.level === 'string') return () => (this.options.state.logLevel = params.level as string);
    return undefined;
  }

  /** Unsubscribes the server from resources nobody holds any more (a server of one session goes with it). */
  private giveUp(uris: string[]): void {
    if (this.options.ids !== 'rewrite' || this.gone !== undefined) return;
    for (const uri of uris) this.channel.request('resources/unsubscribe', { uri }, { timeoutMs: OWN_REQUEST_TIMEOUT_MS }).catch(() => undefined);
  }

  private cancel(entry: Attached, reason: string, answer: boolean): void {
    if (!this.release(entry)) return;
    if (this.gone === undefined) this.channel.notify('notifications/cancelled', { requestId: entry.backendId, reason });
    entry.call.end(`the request was cancelled: ${reason}`, answer);
  }

  /** Forgets a request in flight; false when it was already answered or cancelled. */
  private release(entry: Attached): boolean {
    const key = idKey(entry.backendId);
    if (this.byId.get(key) !== entry) return false;
    this.byId.delete(key);
    if (entry.backendProgressToken !== undefined) this.byToken.delete(idKey(entry.backendProgressToken));
    return true;
  }

  private fromBackend(message: JsonRpcMessage): void {
    if (isResponse(message)) this.answer(message);
    else if (isRequest(message)) this.serverRequest(message);
    else this.serverNotification(message);
  }

  private answer(response: JsonRpcResponse): void {
    const entry = response.id === null ? undefined : this.byId.get(idKey(response.id));
    // Anything else answers a request that was cancelled meanwhile.
    if (!entry || !this.release(entry)) return;
    if (!isErrorResponse(response)) entry.onSuccess?.();
    entry.call.finish(response);
  }

  /** The newest request in flight (its stream if it has one, else its session), or the only session. */
  private owner(): { session: McpSession; sink: MessageSink } | undefined {
    const newest = [...this.byId.values()].at(-1)?.call;
    if (newest) return { session: newest.session, sink: newest.reply.streaming && newest.reply.open ? newest : newest.session };
    const sole = this.options.audience.soleSession();
    return sole ? { session: sole, sink: sole } : undefined;
  }

  private serverNotification(notification: JsonRpcNotification): void {
    const route = routeOf(notification);
    const params = notification.params;
    switch (route.to) {
      case 'request': {
        const entry = this.byToken.get(idKey(route.progressToken));
        if (entry?.clientProgressToken !== undefined) entry.call.send({ ...notification, params: { ...params, progressToken: entry.clientProgressToken } });
        return;
      }
      case 'server-request': {
        const pending = this.serverRequests.get(idKey(route.requestId));
        if (!pending) return;
        this.serverRequests.delete(idKey(route.requestId));
        pending.session.serverRequests.delete(idKey(pending.clientSideId));
        pending.sink.send({ ...notification, params: { ...params, requestId: pending.clientSideId } });
        return;
      }
      case 'everyone':
        for (const session of this.options.audience.sessions()) session.send(notification);
        for (const listener of this.options.audience.listeners()) listener.send(notification);
        return;
      case 'subscribers':
        for (const subscriber of this.options.state.subscriptions.subscribers(route.uri)) subscriber.send(notification);
        return;
      case 'owner': {
        const owner = this.owner();
        if (owner) owner.sink.send(notification);
        else this.droppedCount += 1;
        return;
      }
      case 'nobody':
        this.droppedCount += 1;
    }
  }

  private serverRequest(request: JsonRpcRequest): void {
    const target = this.owner();
    if (!target || target.session.stateless) {
      const why = target ? `the client speaks MCP 2026-07-28, which has no server -> client requests` : `no MCP client is connected to answer ${request.method}`;
      this.channel.send(errorResponse(request.id, JSONRPC_ERROR.server, why));
      return;
    }
    const { session, sink } = target;
    // Two servers of a pool may both number their requests from the same start.
    const clientSideId = session.serverRequests.has(idKey(request.id)) ? `${request.id}~${(aliasCounter += 1)}` : request.id;
    session.serverRequests.set(idKey(clientSideId), {
      sink,
      deliver: (response) => {
        this.serverRequests.delete(idKey(request.id));
        if (this.gone === undefined) this.channel.send({ ...response, id: request.id } as JsonRpcResponse);
      },
    });
    this.serverRequests.set(idKey(request.id), { session, serverId: request.id, clientSideId, sink });
    sink.send({ ...request, id: clientSideId });
  }

  private backendGone(error: Error): void {
    for (const entry of [...this.byId.values()]) {
      this.release(entry);
      entry.call.end(`${error.message}; the request was lost`, true);
    }
    for (const pending of this.serverRequests.values()) pending.session.serverRequests.delete(idKey(pending.clientSideId));
    this.serverRequests.clear();
  }
}

/**
 * A BackendChannel to an MCP server reached over Streamable HTTP (2025-11-25), such as a pool
 * activation's `/activations/ID/mcp`: each message is a POST (requests answered as JSON or as an
 * SSE stream, whose messages all come out here), and the session's GET stream carries the
 * server's own notifications and requests. The server is taken as gone (the channel closes) when
 * it cannot be reached, answers 404 (its session or activation ended) or 5xx, or its GET stream
 * ends. Cancelling a request aborts its POST: the remote end then cancels it on its server.
 */
import { EventEmitter } from 'node:events';
import { LATEST_PROTOCOL_VERSION } from '../../../mcp/initialize.js';
import {
  errorResponse,
  isErrorResponse,
  isJsonObject,
  isJsonRpcId,
  isNotification,
  isRequest,
  isResponse,
  JSONRPC_ERROR,
  JsonRpcResponseError,
  toJsonRpcMessage,
  type JsonObject,
  type JsonRpcMessage,
  type JsonRpcResult,
} from '../../../mcp/jsonrpc.js';
import type { BackendChannel } from '../../../mcp/http/backend-channel.js';
import type { ClientDeclaration } from '../../../mcp/http/session.js';
import { idKey } from '../../../mcp/http/session.js';
import { RequestTimeoutError } from '../../../mcp/stdio-connection.js';
import { sseData } from './sse-reader.js';

interface ChannelEvents {
  message: [JsonRpcMessage];
  close: [Error];
}

interface OwnRequest {
  resolve(result: unknown): void;
  reject(error: Error): void;
}

const DEFAULT_CLIENT_INFO = { name: 'mcpwarm-proxy', version: '0.1.0' };

export class StreamableHttpChannel implements BackendChannel {
  private readonly events = new EventEmitter<ChannelEvents>();
  private readonly lifetime = new AbortController();
  /** POSTs of requests still being answered, by idKey of the request id. */
  private readonly posts = new Map<string, AbortController>();
  private readonly own = new Map<number, OwnRequest>();
  private lastId = 0;
  private sessionId: string | undefined;
  private protocolVersion: string | undefined;
  private closedError: Error | undefined;

  constructor(
    private readonly url: URL,
    private readonly token: string | undefined,
  ) {}

  get closed(): Error | undefined {
    return this.closedError;
  }

  on(event: 'message', listener: (message: JsonRpcMessage) => void): void;
  on(event: 'close', listener: (error: Error) => void): void;
  on(event: keyof ChannelEvents, listener: (arg: never) => void): void {
    this.events.on(event, listener as never);
  }

  off(event: 'message', listener: (message: JsonRpcMessage) => void): void;
  off(event: 'close', listener: (error: Error) => void): void;
  off(event: keyof ChannelEvents, listener: (arg: never) => void): void {
    this.events.off(event, listener as never);
  }

  reserveId(): number {
    this.lastId += 1;
    return this.lastId;
  }

  /** Opens the session: initialize (with the client's capabilities, if given), initialized, then the GET stream. */
  async initialize(client: ClientDeclaration | undefined, timeoutMs: number): Promise<JsonObject> {
    const info = client?.clientInfo;
    const result = await this.request(
      'initialize',
      {
        protocolVersion: LATEST_PROTOCOL_VERSION,
        capabilities: client?.capabilities ?? {},
        clientInfo: typeof info?.name === 'string' && typeof info.version === 'string' ? info : DEFAULT_CLIENT_INFO,
      },
      { timeoutMs },
    );
    if (!isJsonObject(result) || typeof result.protocolVersion !== 'string') throw new Error('the initialize result has no protocolVersion');
    this.protocolVersion = result.protocolVersion;
    this.notify('notifications/initialized');
    void this.listen();
    return result;
  }

  send(message: JsonRpcMessage): void {
    if (this.closedError) throw this.closedError;
    const cancelled = isNotification(message) && message.method === 'notifications/cancelled' ? message.params?.requestId : undefined;
    const post = isJsonRpcId(cancelled) ? this.posts.get(idKey(cancelled)) : undefined;
    if (post) {
      post.abort();
      return;
    }
    void this.post(message);
  }

  notify(method: string, params?: JsonObject): void {
    this.send(params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params });
  }

  request(method: string, params?: JsonObject, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<unknown> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.reserveId();
    return new Promise((resolve, reject) => {
      const { timeoutMs, signal } = options;
      const settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.own.delete(id);
      };
      const abandon = (error: Error) => {
        settle();
        if (!this.closedError) this.notify('notifications/cancelled', { requestId: id, reason: error.message });
        reject(error);
      };
      const onAbort = () => abandon(signal!.reason instanceof Error ? signal!.reason : new Error(String(signal!.reason)));
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => abandon(new RequestTimeoutError(method, timeoutMs)), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.own.set(id, {
        resolve: (result) => {
          settle();
          resolve(result);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      });
      this.send(params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params });
    });
  }

  /** Ends the channel: requests in flight are aborted (the remote end cancels them). */
  close(reason: string): void {
    this.shutdown(reason);
  }

  private headers(accept: string): Record<string, string> {
    return {
      accept,
      ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      ...(this.sessionId ? { 'mcp-session-id': this.sessionId } : {}),
      ...(this.protocolVersion ? { 'mcp-protocol-version': this.protocolVersion } : {}),
    };
  }

  private async post(message: JsonRpcMessage): Promise<void> {
    const abort = new AbortController();
    const key = isRequest(message) ? idKey(message.id) : undefined;
    if (key !== undefined) this.posts.set(key, abort);
    try {
      const response = await fetch(this.url, {
        method: 'POST',
        headers: { ...this.headers('application/json, text/event-stream'), 'content-type': 'application/json' },
        body: JSON.stringify(message),
        signal: AbortSignal.any([abort.signal, this.lifetime.signal]),
      });
      this.sessionId ??= response.headers.get('mcp-session-id') ?? undefined;
      if (response.ok) {
        await this.readMessages(response);
        return;
      }
      const body = (await response.json().catch(() => undefined)) as { error?: { code?: unknown; message?: unknown } } | undefined;
      const reason = typeof body?.error?.message === 'string' ? body.error.message : `HTTP ${response.status}`;
      if (response.status === 404 || response.status >= 500) {
        this.shutdown(`the remote MCP server is gone (HTTP ${response.status}: ${reason})`);
      } else if (isRequest(message)) {
        this.deliver(errorResponse(message.id, typeof body?.error?.code === 'number' ? body.error.code : JSONRPC_ERROR.internal, reason));
      }
    } catch (error) {
      if (!abort.signal.aborted && !this.lifetime.signal.aborted) this.shutdown(`the remote MCP server is unreachable: ${(error as Error).message}`);
    } finally {
      if (key !== undefined && this.posts.get(key) === abort) this.posts.delete(key);
    }
  }

  /** The session's GET stream, for the server's notifications and requests; when it ends, the server is gone. */
  private async listen(): Promise<void> {
    try {
      const response = await fetch(this.url, { headers: this.headers('text/event-stream'), signal: this.lifetime.signal });
      // A server without a GET stream (405) just has nothing to say outside requests.
      if (response.status === 405) return;
      if (!response.ok) {
        this.shutdown(`the remote MCP server refused its event stream (HTTP ${response.status})`);
        return;
      }
      await this.readMessages(response);
      this.shutdown('the remote MCP server ended its event stream');
    } catch (error) {
      if (!this.lifetime.signal.aborted) this.shutdown(`the remote MCP server's event stream failed: ${(error as Error).message}`);
    }
  }

  private async readMessages(response: Response): Promise<void> {
    if (!response.body) return;
    if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      const text = await response.text();
      if (text.trim() !== '') this.receive(text);
      return;
    }
    for await (const data of sseData(response.body)) this.receive(data);
  }

  private receive(text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return;
    }
    const message = toJsonRpcMessage(value);
    if (typeof message !== 'string') this.deliver(message);
  }

  private deliver(message: JsonRpcMessage): void {
    if (this.closedError) return;
    const own = isResponse(message) && typeof message.id === 'number' ? this.own.get(message.id) : undefined;
    if (!own) this.events.emit('message', message);
    else if (isErrorResponse(message)) own.reject(new JsonRpcResponseError(message.error));
    else own.resolve((message as JsonRpcResult).result);
  }

  private shutdown(reason: string): void {
    if (this.closedError) return;
    const error = new Error(reason);
    this.closedError = error;
    this.lifetime.abort();
    for (const request of [...this.own.values()]) request.reject(error);
    this.events.emit('close', error);
  }
}

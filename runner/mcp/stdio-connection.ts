/**
 * A JSON-RPC connection to an MCP server over its stdin and stdout. It matches answers to its own
 * requests; everything else the server writes (notifications, server -> client requests, answers
 * to messages forwarded raw with send()) goes to the 'message' listeners. All ids it hands out,
 * for its own requests and through reserveId() for forwarded ones, come from one counter, so
 * several users of one server never collide.
 */
import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import type { ExitStatus } from '../sandbox/types.js';
import { encodeMessage, LineDecoder, type DecodedLine } from './framing.js';
import { isErrorResponse, isResponse, JsonRpcResponseError, type JsonObject, type JsonRpcMessage, type JsonRpcResult } from './jsonrpc.js';

export interface StdioStreams {
  stdin: Writable;
  stdout: Readable;
  /** When given, pending requests fail once the process has exited, even if a grandchild keeps stdout open. */
  exited?: Promise<ExitStatus>;
}

export interface StdioConnectionOptions {
  maxLineBytes?: number;
}

export interface RequestOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export type GarbageLine = Extract<DecodedLine, { kind: 'garbage' }>;

/** The connection ended: pending requests reject with this, and send() on it throws it. */
export class ConnectionClosedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionClosedError';
  }
}

export class RequestTimeoutError extends Error {
  constructor(
    readonly method: string,
    readonly timeoutMs: number,
  ) {
    super(`${method}: no answer within ${timeoutMs} ms`);
    this.name = 'RequestTimeoutError';
  }
}

interface ConnectionEvents {
  message: [JsonRpcMessage];
  /** A line on stdout that is not a JSON-RPC message; the connection goes on reading. */
  protocolError: [GarbageLine];
  close: [ConnectionClosedError];
}

interface PendingRequest {
  resolve(result: unknown): void;
  reject(error: Error): void;
}

/** After the exit, how long stdout may take to deliver what the server wrote before it exited. */
const EXIT_DRAIN_MS = 500;

export function describeExit(status: ExitStatus): string {
  return status.signal ? `killed by signal ${status.signal}` : `exit code ${status.code}`;
}

export class StdioMcpConnection {
  private readonly stdin: Writable;
  private readonly events = new EventEmitter<ConnectionEvents>();
  private readonly pending = new Map<number, PendingRequest>();
  private lastId = 0;
  private exitStatus: ExitStatus | undefined;
  private closedError: ConnectionClosedError | undefined;

  constructor(streams: StdioStreams, options: StdioConnectionOptions = {}) {
    this.stdin = streams.stdin;
    const decoder = new LineDecoder(options.maxLineBytes);
    const stdout = streams.stdout;
    stdout.on('data', (chunk: Buffer | string) => this.receive(decoder.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)));
    stdout.on('end', () => {
      this.receive(decoder.end());
      this.shutdown(this.goneReason('closed its stdout'));
    });
    stdout.on('close', () => this.shutdown(this.goneReason('closed its stdout')));
    stdout.on('error', (error) => this.shutdown(`reading the MCP server's stdout failed: ${error.message}`));
    this.stdin.on('error', (error) => this.shutdown(this.goneReason(`cannot be written to (${error.message})`)));
    void streams.exited?.then((status) => {
      this.exitStatus = status;
      setTimeout(() => this.shutdown(this.goneReason('exited')), EXIT_DRAIN_MS).unref();
    });
  }

  /** Set once the connection has ended; the reason is its message. */
  get closed(): ConnectionClosedError | undefined {
    return this.closedError;
  }

  on<E extends keyof ConnectionEvents>(event: E, listener: (...args: ConnectionEvents[E]) => void): void {
    this.events.on(event, listener as never);
  }

  off<E extends keyof ConnectionEvents>(event: E, listener: (...args: ConnectionEvents[E]) => void): void {
    this.events.off(event, listener as never);
  }

  /** An id that no other message sent on this connection uses, for requests forwarded with send(). */
  reserveId(): number {
    this.lastId += 1;
    return this.lastId;
  }

  /**
   * Sends a request and resolves with its result; a JSON-RPC error answer rejects with
   * JsonRpcResponseError. A timeout or an abort sends `notifications/cancelled` for it (except for
   * `initialize`, which MCP forbids cancelling) and rejects.
   */
  request(method: string, params?: JsonObject, options: RequestOptions = {}): Promise<unknown> {
    if (this.closedError) return Promise.reject(this.closedError);
    const { signal, timeoutMs } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const id = this.reserveId();
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(id);
      };
      const abandon = (error: Error, reason: string) => {
        cleanup();
        if (method !== 'initialize' && !this.closedError) this.notify('notifications/cancelled', { requestId: id, reason });
        reject(error);
      };
      const onAbort = () => abandon(signal!.reason instanceof Error ? signal!.reason : new Error(String(signal!.reason)), 'the client aborted the request');
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => abandon(new RequestTimeoutError(method, timeoutMs), `no answer within ${timeoutMs} ms`), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: (result) => {
          cleanup();
          resolve(result);
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      });
      try {
        this.send(params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params });
      } catch (error) {
        cleanup();
        reject(error);
      }
    });
  }

  notify(method: string, params?: JsonObject): void {
    this.send(params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params });
  }

  /** Writes one message as is; throws ConnectionClosedError once the connection has ended. */
  send(message: JsonRpcMessage): void {
    if (this.closedError) throw this.closedError;
    this.stdin.write(encodeMessage(message));
  }

  /** Rejects pending requests and ends the server's stdin, which is the stdio transport's shutdown signal. */
  close(reason = 'the connection to the MCP server was closed'): void {
    if (this.closedError) return;
    this.shutdown(reason);
    this.stdin.end();
  }

  private goneReason(how: string): string {
    return this.exitStatus ? `the MCP server exited (${describeExit(this.exitStatus)})` : `the MCP server ${how}`;
  }

  private receive(lines: DecodedLine[]): void {
    for (const line of lines) {
      if (this.closedError) return;
      if (line.kind === 'garbage') {
        this.events.emit('protocolError', line);
        continue;
      }
      const message = line.message;
      const own = isResponse(message) && typeof message.id === 'number' ? this.pending.get(message.id) : undefined;
      if (!own) this.events.emit('message', message);
      else if (isErrorResponse(message)) own.reject(new JsonRpcResponseError(message.error));
      else own.resolve((message as JsonRpcResult).result);
    }
  }

  private shutdown(reason: string): void {
    if (this.closedError) return;
    const error = new ConnectionClosedError(reason);
    this.closedError = error;
    for (const request of [...this.pending.values()]) request.reject(error);
    this.events.emit('close', error);
  }
}

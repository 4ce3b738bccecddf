/**
 * One client request from the moment it is POSTed until it is answered or given up. It may wait
 * in a queue before a backend takes it; whoever holds it (the queue, then a backend's router) is
 * told when it is abandoned (the client disconnected or cancelled it, it timed out, its session
 * ended) and undoes what it started. The client always gets its own id back.
 */
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { errorResponse, JSONRPC_ERROR, type JsonRpcId, type JsonRpcMessage, type JsonRpcRequest, type JsonRpcResponse } from '../jsonrpc.js';
import { openReply, type RequestReply } from './reply.js';
import { idKey, type McpSession } from './session.js';

/**
 * What the holder does when the call is abandoned; it ends the call with end(). `answer`: the
 * client is owed an error answer (a timeout); otherwise (a cancellation) a stream just ends.
 */
export type AbandonHandler = (reason: string, answer: boolean) => void;

export class ClientCall {
  readonly key: string;
  readonly reply: RequestReply;
  readonly receivedAt = performance.now();
  /** When a backend took it (undefined while queued). */
  attachedAt: number | undefined;
  private holder: AbandonHandler | undefined;
  private done = false;
  private readonly settledListeners: Array<() => void> = [];

  constructor(
    readonly session: McpSession,
    readonly request: JsonRpcRequest,
    res: ServerResponse,
    streaming: boolean,
    /** Rewrites an answer before it is sent (2026-07-28 results carry a resultType). */
    private readonly shape: (response: JsonRpcResponse) => JsonRpcResponse = (response) => response,
  ) {
    this.key = idKey(request.id);
    this.reply = openReply(res, streaming, () => this.abandon('the HTTP client disconnected', false));
    session.calls.set(this.key, this);
  }

  get id(): JsonRpcId {
    return this.request.id;
  }

  get method(): string {
    return this.request.method;
  }

  get settled(): boolean {
    return this.done;
  }

  /** Makes `handler` the one told when the call is abandoned. */
  holdBy(handler: AbandonHandler | undefined): void {
    this.holder = handler;
  }

  /** Gives the call up: its holder undoes what it started, then ends it. */
  abandon(reason: string, answer: boolean): void {
    if (this.done) return;
    if (this.holder) this.holder(reason, answer);
    else this.end(reason, answer);
  }

  /** A message about the call (progress, a server -> client request) on its own stream, if it has one. */
  send(message: JsonRpcMessage): void {
    this.reply.send(message);
  }

  /** Answers with the backend's response under the client's own id. */
  finish(response: JsonRpcResponse): void {
    if (this.done) return;
    this.reply.finish(this.shape({ ...response, id: this.request.id } as JsonRpcResponse));
    this.settle();
  }

  /**
   * Ends without a backend answer: with an error answer when `answer`; otherwise a stream just
   * ends (the answer to a cancelled request is never sent), while a JSON reply, which needs a
   * body, still carries the error.
   */
  end(message: string, answer: boolean, code: number = JSONRPC_ERROR.server): void {
    if (this.done) return;
    const error = errorResponse(this.request.id, code, message);
    if (answer) this.reply.finish(error);
    else this.reply.cancel(error);
    this.settle();
  }

  onSettled(listener: () => void): void {
    if (this.done) listener();
    else this.settledListeners.push(listener);
  }

  private settle(): void {
    this.done = true;
    this.holder = undefined;
    if (this.session.calls.get(this.key) === this) this.session.calls.delete(this.key);
    for (const listener of this.settledListeners.splice(0)) listener();
  }
}

/**
 * The HTTP response to one POSTed request. A client that accepts only JSON gets one JSON body. A
 * client that accepts an event stream gets one when there is something to stream: a message
 * before the answer (progress, a server -> client request) opens it, and so does a request still
 * unanswered after REQUEST_HEAD_HOLD_MS, so that its client sees it is being worked on. An answer
 * that comes first goes as one JSON body (MCP lets the server choose): one write, and the least
 * work for the client.
 */
import type { ServerResponse } from 'node:http';
import type { JsonRpcErrorResponse, JsonRpcMessage, JsonRpcResponse } from '../jsonrpc.js';
import { sendJson } from './http-io.js';
import { SseStream } from './sse.js';

/** How long a reply that may stream waits for the answer before it opens its stream. */
const REQUEST_HEAD_HOLD_MS = 20;

export interface MessageSink {
  send(message: JsonRpcMessage): void;
}

export interface RequestReply extends MessageSink {
  /** Whether it carries messages besides the answer (progress, server -> client requests); send() drops them otherwise. */
  readonly streaming: boolean;
  readonly open: boolean;
  finish(answer: JsonRpcResponse): void;
  /** Ends the reply of a request that gets no answer: a stream just ends; a JSON reply, which needs a body, carries `answer`. */
  cancel(answer: JsonRpcErrorResponse): void;
}

function responseOpen(res: ServerResponse): boolean {
  return !res.writableEnded && !res.destroyed;
}

class StreamingReply implements RequestReply {
  readonly streaming = true;
  private stream: SseStream | undefined;
  private readonly holdTimer: NodeJS.Timeout;

  constructor(
    private readonly res: ServerResponse,
    onClientGone: () => void,
  ) {
    this.holdTimer = setTimeout(() => this.toStream(), REQUEST_HEAD_HOLD_MS);
    res.on('close', () => {
      clearTimeout(this.holdTimer);
      if (!res.writableFinished) onClientGone();
    });
  }

  get open(): boolean {
    return this.stream ? this.stream.open : responseOpen(this.res);
  }

  send(message: JsonRpcMessage): void {
    if (this.open) this.toStream().send(message);
  }

  finish(answer: JsonRpcResponse): void {
    if (this.stream) this.stream.end(answer);
    else if (this.open) sendJson(this.res, 200, answer);
    // After the write: the answer does not wait for the timer's bookkeeping.
    clearTimeout(this.holdTimer);
  }

  cancel(): void {
    if (this.open) this.toStream().end();
  }

  private toStream(): SseStream {
    clearTimeout(this.holdTimer);
    return (this.stream ??= new SseStream(this.res));
  }
}

class JsonReply implements RequestReply {
  readonly streaming = false;

  constructor(
    private readonly res: ServerResponse,
    onClientGone: () => void,
  ) {
    res.on('close', () => {
      if (!res.writableFinished) onClientGone();
    });
  }

  get open(): boolean {
    return responseOpen(this.res);
  }

  send(): void {}

  finish(answer: JsonRpcResponse): void {
    if (this.open) sendJson(this.res, 200, answer);
  }

  cancel(answer: JsonRpcErrorResponse): void {
    this.finish(answer);
  }
}

/** `onClientGone` runs when the client disconnects before the reply was finished. */
export function openReply(res: ServerResponse, streaming: boolean, onClientGone: () => void): RequestReply {
  return streaming ? new StreamingReply(res, onClientGone) : new JsonReply(res, onClientGone);
}

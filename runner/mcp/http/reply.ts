/** The HTTP response to one POSTed request: an SSE stream when the client accepts one, else one JSON body. */
import type { ServerResponse } from 'node:http';
import type { JsonRpcErrorResponse, JsonRpcMessage, JsonRpcResponse } from '../jsonrpc.js';
import { sendJson } from './http-io.js';
import { SseStream } from './sse.js';

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

class StreamingReply implements RequestReply {
  readonly streaming = true;
  private readonly stream: SseStream;

  constructor(res: ServerResponse, onClientGone: () => void) {
    this.stream = new SseStream(res);
    this.stream.onClientGone(onClientGone);
  }

  get open(): boolean {
    return this.stream.open;
  }

  send(message: JsonRpcMessage): void {
    this.stream.send(message);
  }

  finish(answer: JsonRpcResponse): void {
    this.stream.send(answer);
    this.stream.end();
  }

  cancel(): void {
    this.stream.end();
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
    return !this.res.writableEnded && !this.res.destroyed;
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

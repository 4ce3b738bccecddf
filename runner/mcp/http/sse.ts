/**
 * A Server-Sent Events response carrying JSON-RPC messages, one `message` event each. Events have
 * no ids: streams are not resumable, so clients do not try to reconnect a request's stream.
 */
import type { ServerResponse } from 'node:http';
import type { JsonRpcMessage } from '../jsonrpc.js';

function eventOf(message: JsonRpcMessage): string {
  // JSON.stringify escapes newlines, so the message fits on one data line.
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

export class SseStream {
  private ended = false;

  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // Reverse proxies (nginx) buffer responses by default, which would hold events back.
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
    res.on('close', () => {
      this.ended = true;
    });
  }

  /** False once ended by either side. */
  get open(): boolean {
    return !this.ended;
  }

  send(message: JsonRpcMessage): void {
    if (!this.ended) this.res.write(eventOf(message));
  }

  /** Ends the stream, after `last` when given (in the same write). */
  end(last?: JsonRpcMessage): void {
    if (this.ended) return;
    this.ended = true;
    if (last === undefined) this.res.end();
    else this.res.end(eventOf(last));
  }
}

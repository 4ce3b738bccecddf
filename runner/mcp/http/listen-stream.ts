/**
 * A 2026-07-28 `subscriptions/listen` stream: a long-lived SSE response that opens with
 * `notifications/subscriptions/acknowledged` (the part of the filter the server honours), then
 * carries the change notifications that pass the filter, each stamped with the subscription id
 * (the listen request's id). The client ends it by closing the stream; the server ends it with
 * the listen request's result.
 */
import type { ServerResponse } from 'node:http';
import { isNotification, type JsonRpcId, type JsonRpcMessage } from '../jsonrpc.js';
import { passes, type ListenFilter } from './listen-filter.js';
import type { MessageSink } from './reply.js';
import { META_KEYS } from './revision.js';
import { SseStream } from './sse.js';

export class ListenStream implements MessageSink {
  private agreed: ListenFilter | undefined;
  /** Opened by acknowledge(): until then a failure can still be answered with an HTTP error. */
  private stream: SseStream | undefined;

  constructor(
    private readonly res: ServerResponse,
    readonly subscriptionId: JsonRpcId,
    readonly requested: ListenFilter,
  ) {}

  /** False once the client closed it or it was ended. */
  get open(): boolean {
    return this.stream ? this.stream.open : !this.res.destroyed && !this.res.writableEnded;
  }

  /** Calls `listener` when the client closes the stream. */
  onClientGone(listener: () => void): void {
    this.res.on('close', () => {
      if (!this.res.writableFinished) listener();
    });
  }

  /** Opens the stream with the subset of the filter the server agreed to. */
  acknowledge(agreed: ListenFilter): void {
    if (!this.open) return;
    this.agreed = agreed;
    this.stream = new SseStream(this.res);
    this.stream.send({
      jsonrpc: '2.0',
      method: 'notifications/subscriptions/acknowledged',
      params: { notifications: agreed, _meta: { [META_KEYS.subscriptionId]: this.subscriptionId } },
    });
  }

  send(message: JsonRpcMessage): void {
    if (!this.stream || !this.agreed || !isNotification(message) || !passes(this.agreed, message)) return;
    const params = message.params ?? {};
    const meta = typeof params._meta === 'object' && params._meta !== null ? params._meta : {};
    this.stream.send({ ...message, params: { ...params, _meta: { ...meta, [META_KEYS.subscriptionId]: this.subscriptionId } } });
  }

  /** Ends the subscription from the server's side: the listen request gets its (empty) result. */
  end(): void {
    if (!this.stream?.open) return;
    this.stream.end({ jsonrpc: '2.0', id: this.subscriptionId, result: { resultType: 'complete', _meta: { [META_KEYS.subscriptionId]: this.subscriptionId } } });
  }
}

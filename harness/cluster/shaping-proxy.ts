/**
 * A userspace TCP proxy that makes a loopback service look far away: every connection pays a
 * round trip to open (the TCP handshake), bytes take half the round-trip time each way, and,
 * when the kernel does not shape the rate (`tc` needs root), the link's bandwidth is enforced
 * here, shared by all connections as on a real link. Order is kept per connection; a slow reader
 * pauses its sender (the queue per direction is bounded), so nothing is buffered without limit.
 */
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { LinkModel } from './link-model.js';

export interface ShapingProxyOptions {
  /** Where connections go. */
  upstream: { host: string; port: number };
  rttMs: number;
  /** Bits per second enforced in userspace, or undefined when the kernel shapes the rate. */
  bandwidthBitsPerSecond?: number;
  host?: string;
  /** 0 (default) lets the kernel pick. */
  port?: number;
  /**
   * Bytes queued per direction of a connection before its sender is paused (default 1 MiB). A
   * connection moves at most this much per one-way delay, so it must exceed the link's
   * bandwidth-delay product.
   */
  maxQueueBytes?: number;
}

export interface ShapingProxy {
  host: string;
  port: number;
  /** Connections open now. */
  connections(): number;
  close(): Promise<void>;
}

/** Bandwidth is charged in slices of this size, so a big read does not block the link in one lump. */
const SLICE_BYTES = 16 * 1024;
const DEFAULT_QUEUE_BYTES = 1024 * 1024;

/** One direction of one connection: chunks waiting for their delivery time, written in order. */
class DelayedPipe {
  private readonly queue: Array<{ at: number; data: Buffer }> = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  private waitingForDrain = false;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly link: LinkModel,
    private readonly highWaterBytes: number,
  ) {
    from.on('data', (chunk: Buffer) => this.accept(chunk));
    from.on('end', () => {
      this.ended = true;
      this.flush();
    });
    to.on('drain', () => {
      this.waitingForDrain = false;
      this.flush();
    });
  }

  private accept(chunk: Buffer): void {
    const now = performance.now();
    for (let offset = 0; offset < chunk.length; offset += SLICE_BYTES) {
      const data = chunk.subarray(offset, offset + SLICE_BYTES);
      this.queue.push({ at: this.link.deliver(data.length, now), data });
      this.queuedBytes += data.length;
    }
    if (this.queuedBytes > this.highWaterBytes) this.from.pause();
    this.flush();
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.to.destroyed) return;
    while (this.queue.length > 0 && !this.waitingForDrain) {
      const head = this.queue[0]!;
      const waitMs = head.at - performance.now();
      if (waitMs > 0) {
        this.timer = setTimeout(() => this.flush(), waitMs);
        break;
      }
      this.queue.shift();
      this.queuedBytes -= head.data.length;
      if (!this.to.write(head.data)) this.waitingForDrain = true;
    }
    if (this.queuedBytes <= this.highWaterBytes / 2 && this.from.isPaused()) this.from.resume();
    if (this.queue.length === 0 && this.ended) this.to.end();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.queue.length = 0;
  }
}

export function startShapingProxy(options: ShapingProxyOptions): Promise<ShapingProxy> {
  const oneWay = { delayMs: options.rttMs / 2, ...(options.bandwidthBitsPerSecond !== undefined ? { bandwidthBitsPerSecond: options.bandwidthBitsPerSecond } : {}) };
  // One model per direction, shared by every connection: they compete for the link as on a real one.
  const up = new LinkModel(oneWay);
  const down = new LinkModel(oneWay);
  const open = new Set<Socket>();
  const queueBytes = options.maxQueueBytes ?? DEFAULT_QUEUE_BYTES;

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    // The handshake costs a round trip before the first byte can be sent.
    const handshake = setTimeout(() => {
      if (client.destroyed) return;
      const upstream = connect(options.upstream.port, options.upstream.host);
      open.add(upstream);
      const pipes = [new DelayedPipe(client, upstream, up, queueBytes), new DelayedPipe(upstream, client, down, queueBytes)];
      const teardown = (): void => {
        for (const pipe of pipes) pipe.stop();
        client.destroy();
        upstream.destroy();
      };
      upstream.on('close', () => {
        open.delete(upstream);
        // Whatever the upstream sent before closing is still delivered; then the client is closed.
        if (!client.destroyed && client.writableEnded) client.destroy();
      });
      upstream.on('error', teardown);
      client.on('error', teardown);
      client.on('close', teardown);
      upstream.on('connect', () => client.resume());
    }, options.rttMs);
    client.on('close', () => clearTimeout(handshake));
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('the shaping proxy has no TCP address');
      resolve({
        host: address.address,
        port: address.port,
        connections: () => open.size,
        close: async () => {
          const closing = new Promise<void>((done) => server.close(() => done()));
          await Promise.all(
            [...open].map((socket) => {
              const closed = once(socket, 'close');
              socket.destroy();
              return closed;
            }),
          );
          await closing;
        },
      });
    });
  });
}

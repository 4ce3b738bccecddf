/**
 * One direction of an emulated network link: a transmission queue at `bandwidth` (bytes leave one
 * after another, so every connection on the link shares it) followed by a propagation delay.
 * Pure: given when bytes arrive, it says when they come out of the far end.
 */

export interface LinkDirection {
  /** Bits per second; undefined for no limit (the kernel, or nothing, shapes the rate). */
  bandwidthBitsPerSecond?: number;
  /** Propagation delay one way, ms (half the round-trip time). */
  delayMs: number;
}

export class LinkModel {
  private busyUntilMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly direction: LinkDirection) {}

  /** When `bytes` that reached the link at `arrivalMs` are delivered at the other end. */
  deliver(bytes: number, arrivalMs: number): number {
    const bandwidth = this.direction.bandwidthBitsPerSecond;
    if (bandwidth === undefined) return arrivalMs + this.direction.delayMs;
    const start = Math.max(arrivalMs, this.busyUntilMs);
    this.busyUntilMs = start + (bytes * 8 * 1000) / bandwidth;
    return this.busyUntilMs + this.direction.delayMs;
  }
}

/**
 * How long an answer of `bytes` to one request takes over a new connection on a link, from
 * connecting to the last byte: the handshake's round trip, the request's way there, the answer at
 * the bandwidth and its way back. (The model counts payload only; a kernel shaping the link also
 * counts each packet's headers, about 5% more at a 1500-byte MTU.)
 */
export function requestOverNewConnectionMs(bytes: number, link: { bandwidthBitsPerSecond: number; rttMs: number }): number {
  const down = new LinkModel({ bandwidthBitsPerSecond: link.bandwidthBitsPerSecond, delayMs: link.rttMs / 2 });
  return down.deliver(bytes, link.rttMs + link.rttMs / 2);
}

/** Bandwidths as written in scenarios: `100mbit`, `40Mbit/s`, `1gbit`, `512kbit`, `10MB/s`; bits per second. */
export function parseBandwidth(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(k|m|g)?(bit|bps|b)(?:\/s)?$/i.exec(text.trim());
  if (!match) return undefined;
  const scale = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[(match[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g'];
  // `B` (capital) is bytes; `bit`, `bps` and `b` are bits.
  const unit = match[3] === 'B' ? 8 : 1;
  const value = Number(match[1]) * scale * unit;
  return value > 0 ? value : undefined;
}

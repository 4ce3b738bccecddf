import { describe, expect, it } from 'vitest';
import { LinkModel, parseBandwidth, requestOverNewConnectionMs } from './link-model.js';

describe('LinkModel', () => {
  it('delays by the propagation delay alone when the rate is not limited', () => {
    const link = new LinkModel({ delayMs: 20 });
    expect(link.deliver(1_000_000, 5)).toBe(25);
    expect(link.deliver(1_000_000, 5)).toBe(25);
  });

  it('queues bytes behind each other at the bandwidth, then adds the delay', () => {
    // 8 Mbit/s: 1,000 bytes take 1 ms on the wire.
    const link = new LinkModel({ bandwidthBitsPerSecond: 8_000_000, delayMs: 10 });
    expect(link.deliver(1000, 0)).toBeCloseTo(11);
    // Arrives while the first is still being sent: waits for it.
    expect(link.deliver(1000, 0.5)).toBeCloseTo(12);
    // Arrives on an idle link.
    expect(link.deliver(2000, 100)).toBeCloseTo(112);
  });

  it('takes size / bandwidth for a large transfer in slices', () => {
    const link = new LinkModel({ bandwidthBitsPerSecond: 40_000_000, delayMs: 20 });
    let last = 0;
    for (let sent = 0; sent < 4 * 2 ** 20; sent += 16384) last = link.deliver(16384, 0);
    expect(last).toBeCloseTo((4 * 2 ** 20 * 8 * 1000) / 40e6 + 20, 6);
  });
});

describe('requestOverNewConnectionMs', () => {
  it('is two round trips and the bytes at the bandwidth', () => {
    // 4 MiB at 40 Mbit/s is 838.9 ms on the wire.
    expect(requestOverNewConnectionMs(4 * 2 ** 20, { bandwidthBitsPerSecond: 40e6, rttMs: 40 })).toBeCloseTo(80 + 838.8608, 6);
    expect(requestOverNewConnectionMs(0, { bandwidthBitsPerSecond: 1e6, rttMs: 25 })).toBe(50);
  });
});

describe('parseBandwidth', () => {
  it('reads bits and bytes per second with SI prefixes', () => {
    expect(parseBandwidth('100mbit')).toBe(100e6);
    expect(parseBandwidth('40Mbit/s')).toBe(40e6);
    expect(parseBandwidth('1gbit')).toBe(1e9);
    expect(parseBandwidth('512kbit')).toBe(512e3);
    expect(parseBandwidth('10MB/s')).toBe(80e6);
  });

  it('refuses what is not a bandwidth', () => {
    expect(parseBandwidth('fast')).toBeUndefined();
    expect(parseBandwidth('0mbit')).toBeUndefined();
    expect(parseBandwidth('100')).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import type { AutocannonOutcome } from '../../../load/autocannon-load.js';
import { throughputLine, throughputOutcome } from './throughput.js';

const outcome: AutocannonOutcome = {
  connections: 16,
  pipelining: 1,
  answers: { latencyMs: [1.5, 2.25, 0.75, 3], problems: [null, 'HTTP_404', null, 'JSONRPC_-32602'] },
  unanswered: { TIMEOUT: 2, ECONNRESET: 1 },
  requestsPerSecond: { mean: 1234.5, p50: 1200 },
  latencyMs: { p50: 2, p99: 3 },
  errors: 5,
  timeouts: 2,
  non2xx: 1,
  durationS: 1.01,
};

describe('throughputOutcome', () => {
  it('makes every answer a sample, failed unless a result, and every request without an answer a failed one', () => {
    const { samples, metrics, series } = throughputOutcome(outcome);
    expect(samples).toEqual([
      { latencyMs: 1.5, ok: true },
      { latencyMs: 2.25, ok: false, error: 'HTTP_404' },
      { latencyMs: 0.75, ok: true },
      { latencyMs: 3, ok: false, error: 'JSONRPC_-32602' },
      { latencyMs: 0, ok: false, error: 'TIMEOUT' },
      { latencyMs: 0, ok: false, error: 'TIMEOUT' },
      { latencyMs: 0, ok: false, error: 'ECONNRESET' },
    ]);
    expect(metrics).toEqual({ rps: 1234.5, rps_p50: 1200, latency_p50: 2, latency_p99: 3, errors: 5, timeouts: 2 });
    expect(series).toBeUndefined();
  });

  it('says the figures are closed loop and autocannon\'s latencies whole ms', () => {
    expect(throughputLine('proxy-ac', outcome)).toBe(
      '  proxy-ac: closed loop, 16 connections x 1: 1235 req/s (mean of per-second samples; p50 1200), latency p50 2 ms, p99 3 ms (autocannon, whole ms), errors 5, timeouts 2',
    );
  });
});

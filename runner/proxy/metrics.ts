/**
 * The proxy's Prometheus metrics, on a registry of its own (several proxies can share a process in
 * tests and benchmarks), every series labelled with the strategy. Gauges are read from the pool
 * when scraped.
 */
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ClientCall } from '../mcp/http/client-call.js';
import type { BackendSlot } from './backend-slot.js';
import type { PoolObserver, PoolStats } from './backend-pool.js';
import type { StrategyName } from './strategy.js';

// From half a millisecond (a cached answer on loopback) to a minute (the default request timeout).
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface ProxyMetricsSnapshot extends PoolStats {
  strategy: StrategyName;
  requests: number;
  rejected: number;
  backendStarts: number;
  backendCrashes: number;
}

export class ProxyMetrics implements PoolObserver {
  readonly registry = new Registry();
  // Series of this proxy's strategy, bound once: observing them takes no label handling per request.
  private readonly requestDuration: Histogram.Internal<'strategy'>;
  private readonly queueWait: Histogram.Internal<'strategy'>;
  private readonly backendStart: Histogram.Internal<'strategy'>;
  private readonly requestsTotal: Counter.Internal;
  private readonly crashesTotal: Counter.Internal;
  private readonly rejectedTotal: Counter<'strategy' | 'reason'>;
  private counts = { requests: 0, rejected: 0, backendStarts: 0, backendCrashes: 0 };

  constructor(
    readonly strategy: StrategyName,
    private readonly stats: () => PoolStats,
  ) {
    const labels = { strategy };
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: (stats: PoolStats) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['strategy'],
        registers,
        collect() {
          this.set({ strategy }, read(stats()));
        },
      });
    gauge('mcp_proxy_queue_depth', 'Requests waiting for a backend', (s) => s.queueDepth);
    gauge('mcp_proxy_live_backends', 'Backends taking requests', (s) => s.liveBackends);
    gauge('mcp_proxy_backends', 'Backends kept, including those starting or being replaced', (s) => s.backends);
    gauge('mcp_proxy_in_flight_requests', 'Requests at a backend now', (s) => s.inFlight);
    gauge('mcp_proxy_sessions', 'Open MCP sessions (2025-11-25)', (s) => s.sessions);
    this.requestDuration = new Histogram({
      name: 'mcp_proxy_request_duration_seconds',
      help: 'From a request arriving to its answer, queue time included',
      labelNames: ['strategy'],
      buckets: BUCKETS,
      registers,
    }).labels(labels);
    this.queueWait = new Histogram({ name: 'mcp_proxy_queue_wait_seconds', help: 'Time requests waited for a backend', labelNames: ['strategy'], buckets: BUCKETS, registers }).labels(labels);
    this.backendStart = new Histogram({
      name: 'mcp_proxy_backend_start_seconds',
      help: 'From starting a backend to its initialize answered',
      labelNames: ['strategy'],
      buckets: BUCKETS,
      registers,
    }).labels(labels);
    this.requestsTotal = new Counter({ name: 'mcp_proxy_requests_total', help: 'Requests answered or given up', labelNames: ['strategy'], registers }).labels(labels);
    this.crashesTotal = new Counter({ name: 'mcp_proxy_backend_crashes_total', help: 'Backends that died and were replaced', labelNames: ['strategy'], registers }).labels(labels);
    this.rejectedTotal = new Counter({
      name: 'mcp_proxy_rejected_total',
      help: 'Requests refused with 503 (reason: queue full, or sessions and backends at the cap)',
      labelNames: ['strategy', 'reason'],
      registers,
    });
    collectDefaultMetrics({ register: this.registry });
  }

  snapshot(): ProxyMetricsSnapshot {
    return { strategy: this.strategy, ...this.stats(), ...this.counts };
  }

  attached(call: ClientCall): void {
    this.queueWait.observe(((call.attachedAt ?? performance.now()) - call.receivedAt) / 1000);
  }

  settled(call: ClientCall): void {
    this.counts.requests += 1;
    this.requestsTotal.inc();
    this.requestDuration.observe((performance.now() - call.receivedAt) / 1000);
  }

  backendStarted(_slot: BackendSlot, ms: number): void {
    this.counts.backendStarts += 1;
    this.backendStart.observe(ms / 1000);
  }

  backendCrashed(): void {
    this.counts.backendCrashes += 1;
    this.crashesTotal.inc();
  }

  backendRestartFailed(): void {}

  refused(reason: 'queue' | 'sessions'): void {
    this.counts.rejected += 1;
    this.rejectedTotal.inc({ strategy: this.strategy, reason });
  }
}

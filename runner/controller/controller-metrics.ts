/** The pool controller's Prometheus metrics: the pool's state, its decisions, and what activations met. */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Pool } from './pool.js';

export function controllerMetrics(pool: Pool) {
  const registry = new Registry();
  const buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  const gauge = (name: string, help: string, value: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(value());
      },
    });
  gauge('mcp_warmpool_available_pods', 'Warm runners ready to be claimed', () => pool.status().available);
  gauge('mcp_warmpool_warm_target', 'Warm runners the pool aims for (follows arrivals when autoscaling)', () => pool.warmTarget);
  gauge('mcp_warmpool_arrival_rate', 'Activations per second, moving average (autoscaling input)', () => pool.status().arrivalRate);
  gauge('mcp_warmpool_refill_seconds', 'Seconds from creating a runner to it being claimable (agent ready, prefetch over), moving average (autoscaling input)', () => pool.status().refillSeconds);
  gauge('mcp_warmpool_cold_runners', 'Cold-fallback runners being made now', () => pool.status().coldRunners);
  gauge('mcp_warmpool_cold_runners_max', 'Cap on cold-fallback runners being made at once', () => pool.status().maxColdRunners);
  gauge('mcp_warmpool_creation_backoff_seconds', 'How long runner creation is still held back after consecutive failures', () => pool.status().creationBackoffMs / 1000);
  new Gauge({
    name: 'mcp_warmpool_runners',
    help: 'Runners by state and phase',
    labelNames: ['state', 'phase'],
    registers: [registry],
    collect() {
      this.reset();
      for (const runner of pool.runnerList()) this.inc({ state: runner.state, phase: runner.phase });
    },
  });
  const metrics = {
    registry,
    claims: new Counter({ name: 'mcp_warmpool_claims_total', help: 'Activations by tier and result', labelNames: ['tier', 'result'], registers: [registry] }),
    queueWait: new Histogram({ name: 'mcp_warmpool_queue_wait_seconds', help: 'Time activations waited for a runner', buckets, registers: [registry] }),
    coldFallbacks: new Counter({ name: 'mcp_warmpool_cold_fallbacks_total', help: 'Activations served by a runner made for them', registers: [registry] }),
    coldRefused: new Counter({ name: 'mcp_warmpool_cold_fallbacks_refused_total', help: 'Activations refused a runner made for them: the cold-fallback cap was reached', registers: [registry] }),
    retries: new Counter({ name: 'mcp_warmpool_activation_retries_total', help: 'Activations tried again on another runner after theirs was lost', registers: [registry] }),
    ended: new Counter({ name: 'mcp_warmpool_activations_ended_total', help: 'Activations ended, by reason', labelNames: ['reason'], registers: [registry] }),
    creations: new Counter({ name: 'mcp_warmpool_runner_creations_total', help: 'Runners made, by result (ready, or failed before ready)', labelNames: ['result'], registers: [registry] }),
    deletions: new Counter({ name: 'mcp_warmpool_runner_deletions_total', help: 'Runners deleted by the reconcile loop, by reason', labelNames: ['reason'], registers: [registry] }),
    prefetchSeconds: new Histogram({
      name: 'mcp_warmpool_prefetch_seconds',
      help: "Time a new runner's agent took to pull every prefetched image, before the runner counted as warm",
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    }),
    prefetchFailures: new Counter({ name: 'mcp_warmpool_prefetch_failures_total', help: 'Images a new runner could not prefetch (it became warm without them), by image', labelNames: ['image'], registers: [registry] }),
    targetChanges: new Counter({ name: 'mcp_warmpool_warm_target_changes_total', help: 'Autoscaling decisions that changed the warm target', labelNames: ['direction'], registers: [registry] }),
  };
  const detach = pool.subscribe((event) => {
    if (event.type === 'runner-ready') metrics.creations.inc({ result: 'ready' });
    else if (event.type === 'runner-prefetched') {
      metrics.prefetchSeconds.observe(event.seconds);
      for (const failure of event.failures) metrics.prefetchFailures.inc({ image: failure.image });
    }
    else if (event.type === 'runner-failed') metrics.creations.inc({ result: 'failed' });
    else if (event.type === 'runner-deleted') metrics.deletions.inc({ reason: event.reason });
    else if (event.type === 'cold-fallback-refused') metrics.coldRefused.inc();
    else if (event.type === 'target-changed') metrics.targetChanges.inc({ direction: event.to > event.from ? 'up' : 'down' });
  });
  return { ...metrics, detach };
}

export type ControllerMetrics = ReturnType<typeof controllerMetrics>;

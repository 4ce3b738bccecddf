/** The agent's Prometheus metrics, on a registry of its own (several agents can share a process in tests). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const ACTIVATION_PHASES = ['resolve', 'pull', 'unpack', 'mount', 'start', 'initialize', 'total'] as const;
export type ActivationPhase = (typeof ACTIVATION_PHASES)[number];

// From 1 ms to about 30 s: warm activations sit near the bottom, cold pulls near the top.
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class AgentMetrics {
  readonly registry = new Registry();
  readonly activationDuration = new Histogram({
    name: 'mcp_warmpool_activation_duration_seconds',
    help: 'Activation time by phase, to MCP initialize answered (phase="total")',
    labelNames: ['phase'],
    buckets: BUCKETS,
    registers: [this.registry],
  });
  readonly activationErrors = new Counter({
    name: 'mcp_warmpool_activation_errors_total',
    help: 'Failed or refused activations by error code',
    labelNames: ['code'],
    registers: [this.registry],
  });
  readonly imagePullDuration = new Histogram({
    name: 'mcp_warmpool_image_pull_duration_seconds',
    help: 'Image resolve + pull + unpack time per activation (near zero when cached)',
    buckets: BUCKETS,
    registers: [this.registry],
  });
  readonly layerCache = new Counter({
    name: 'mcp_warmpool_layer_cache_total',
    help: 'Layers found in the cache (result="hit") or pulled (result="miss")',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly liveInstances = new Gauge({
    name: 'mcp_warmpool_live_instances',
    help: 'MCP server instances running on this agent',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  observePhases(phases: Record<`${ActivationPhase}Ms`, number>): void {
    for (const phase of ACTIVATION_PHASES) this.activationDuration.observe({ phase }, phases[`${phase}Ms`] / 1000);
  }
}

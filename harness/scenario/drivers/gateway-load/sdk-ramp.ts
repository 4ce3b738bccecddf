/** One `client: sdk` trial: tools/list with the MCP SDK at rising open-loop rates, until a step fails its criteria. */
import { McpWarmError } from '../../../../runner/errors.js';
import { connectMcp } from '../../../load/mcp-client.js';
import { runOpenLoop } from '../../../load/open-loop.js';
import { scheduleOffsets } from '../../../load/schedule.js';
import type { PlannedVariant } from '../../plan.js';
import { errorCode, type RunContext, type Sample, type TrialOutcome } from '../types.js';
import type { GatewayEndpoint } from './gateways.js';
import { judgeStep } from './ramp.js';
import type { GatewayLoadSpec } from './spec.js';

/** Outstanding requests at most per step: past this the gateway is not keeping up; more are dropped (errors). */
const MAX_IN_FLIGHT = 2000;

export async function runSdkRamp(endpoint: GatewayEndpoint, spec: GatewayLoadSpec, planned: PlannedVariant, context: RunContext): Promise<TrialOutcome> {
  const { pattern, rates, step, warmup, until } = spec.workload;
  // The schema requires the ramp when a variant uses the SDK.
  if (rates === undefined || step === undefined || until === undefined) throw new McpWarmError('INTERNAL', 'gateway-load: the sdk client runs without workload.rates, step and until');
  const mcp = await connectMcp(endpoint.url, endpoint.token);
  const points: Array<[number, number]> = [];
  let sustainedRate = 0;
  let samples: Sample[] = [];
  try {
    for (const rate of rates) {
      if (context.signal.aborted) break;
      const arrivals = pattern === 'poisson' ? { pattern: 'poisson' as const, ratePerSecond: rate, seed: context.seed } : { pattern: 'constant' as const, ratePerSecond: rate };
      const result = await runOpenLoop({
        offsetsMs: scheduleOffsets(arrivals, { durationMs: step }),
        operation: () => mcp.client.listTools(),
        maxInFlight: MAX_IN_FLIGHT,
        signal: context.signal,
      });
      const verdict = judgeStep(rate, result.operations, result.droppedPlannedMs, warmup, until);
      if (Number.isFinite(verdict.figures.latencyMs.p99)) points.push([rate, verdict.figures.latencyMs.p99]);
      context.progress(`  ${planned.id} at ${rate}/s: p99 ${verdict.figures.latencyMs.p99.toFixed(1)} ms, errors ${(verdict.figures.errorRate * 100).toFixed(2)} %${verdict.sustained ? '' : ' (not sustained)'}`);
      const stepSamples = result.operations
        .filter((op) => op.plannedMs >= warmup)
        .map((op): Sample => (op.ok ? { latencyMs: op.latencyMs, ok: true } : { latencyMs: op.latencyMs, ok: false, error: errorCode(op.error) }));
      if (!verdict.sustained) {
        // With no sustained step the figures are those of the first one.
        if (samples.length === 0) samples = stepSamples;
        break;
      }
      sustainedRate = rate;
      samples = stepSamples;
    }
  } finally {
    await mcp.close();
  }
  return {
    samples,
    metrics: { rate: sustainedRate },
    series: [{ id: 'latency-vs-rate', title: 'tools/list p99 against offered rate', x: { label: 'offered rate', unit: '/s' }, y: { label: 'p99', unit: 'ms' }, points }],
  };
}

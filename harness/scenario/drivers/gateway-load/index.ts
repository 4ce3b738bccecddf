/** The gateway-load driver at run time: a rising-rate ramp of tools/list per trial, with the SDK as the client. */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { callJson, errorFromAnswer } from '../../../../runner/http-json.js';
import { startAgentProcess } from '../../../benchmarks/agent-process.js';
import { connectMcp, type McpSessionClient } from '../../../load/mcp-client.js';
import { runOpenLoop } from '../../../load/open-loop.js';
import { scheduleOffsets } from '../../../load/schedule.js';
import type { PlannedVariant } from '../../plan.js';
import { scenarioController } from '../../scenario-controllers.js';
import { startScenarioProxy } from '../stdio-proxy.js';
import { AGENT_START_TIMEOUT_MS, errorCode, type DriverSession, type RunContext, type Sample, type ScenarioDriver } from '../types.js';
import { judgeStep } from './ramp.js';
import type { GatewayLoadSpec } from './spec.js';

type GatewayVariant = GatewayLoadSpec['variants'][number];

/** An MCP session on a gateway for one trial, and how to end it. */
interface GatewaySession {
  mcp: McpSessionClient;
  end(): Promise<void>;
}

/** Outstanding requests at most per step: past this the gateway is not keeping up; more are dropped (errors). */
const MAX_IN_FLIGHT = 2000;

export const gatewayLoadDriver: ScenarioDriver = {
  kind: 'gateway-load',
  async start(plan, context: RunContext): Promise<DriverSession> {
    const spec = plan.spec as GatewayLoadSpec;
    const targets = new Set(plan.variants.map((v) => (v.variant as GatewayVariant).target));
    const token = randomBytes(18).toString('base64url');
    const agent = targets.has('agent') ? await startAgentProcess({ dir: join(context.workDir, 'gateway-agent'), sandbox: 'auto', token, startTimeoutMs: AGENT_START_TIMEOUT_MS }) : undefined;
    if (agent) context.teardown.push('gateway agent', () => agent.stop());
    const controller = targets.has('controller')
      ? await scenarioController({ name: 'gateway', stateDir: join(context.workDir, 'gateway-pool'), substrate: plan.variants[0]!.substrate, size: 1, maxSize: 3, maxWaitMs: 30_000, coldFallback: true, sandbox: 'auto', teardown: context.teardown })
      : undefined;
    const proxies = new Map<string, string>();
    for (const variant of new Map(plan.variants.map((v) => [v.variant.name, v.variant as GatewayVariant])).values()) {
      if (variant.target !== 'proxy') continue;
      const proxy = await startScenarioProxy({ strategy: variant.strategy!, server: { command: spec.server!.command }, name: variant.name, ...(variant.backends !== undefined ? { backends: variant.backends } : {}) }, context);
      proxies.set(variant.name, proxy.endpoint);
    }

    const open: Record<GatewayVariant['target'], (planned: PlannedVariant) => Promise<GatewaySession>> = {
      agent: async (planned) => {
        const unreachable = { code: 'SERVICE_UNREACHABLE', what: 'the agent' } as const;
        const { status, json } = await callJson(new URL('/activate', agent!.url), { method: 'POST', token, body: { image: context.imageRef(spec.image, planned.link.name) }, unreachable });
        if (status !== 201) throw errorFromAnswer(json.error ?? {}, status);
        const mcp = await connectMcp(new URL(json.endpoint, agent!.url).href, token);
        return { mcp, end: async () => void (await callJson(new URL(`/instances/${json.instanceId}`, agent!.url), { method: 'DELETE', token, unreachable })) };
      },
      controller: async (planned) => {
        const activation = await controller!.activate(context.imageRef(spec.image, planned.link.name));
        const mcp = await connectMcp(new URL(activation.endpoint, controller!.url).href, controller!.token);
        return { mcp, end: () => controller!.end(activation.activationId) };
      },
      proxy: async (planned) => ({ mcp: await connectMcp(proxies.get(planned.variant.name)!), end: async () => undefined }),
    };

    return {
      runTrial: async (_trial, planned) => {
        const session = await open[(planned.variant as GatewayVariant).target](planned);
        const points: Array<[number, number]> = [];
        let sustainedRate = 0;
        let samples: Sample[] = [];
        try {
          for (const rate of spec.workload.rates) {
            if (context.signal.aborted) break;
            const pattern = spec.workload.pattern === 'poisson' ? { pattern: 'poisson' as const, ratePerSecond: rate, seed: context.seed } : { pattern: 'constant' as const, ratePerSecond: rate };
            const result = await runOpenLoop({
              offsetsMs: scheduleOffsets(pattern, { durationMs: spec.workload.step }),
              operation: () => session.mcp.client.listTools(),
              maxInFlight: MAX_IN_FLIGHT,
              signal: context.signal,
            });
            const verdict = judgeStep(rate, result.operations, result.droppedPlannedMs, spec.workload.warmup, spec.workload.until);
            if (Number.isFinite(verdict.figures.latencyMs.p99)) points.push([rate, verdict.figures.latencyMs.p99]);
            context.progress(`  ${planned.id} at ${rate}/s: p99 ${verdict.figures.latencyMs.p99.toFixed(1)} ms, errors ${(verdict.figures.errorRate * 100).toFixed(2)} %${verdict.sustained ? '' : ' (not sustained)'}`);
            const stepSamples = result.operations
              .filter((op) => op.plannedMs >= spec.workload.warmup)
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
          await session.mcp.close();
          await session.end();
        }
        return {
          samples,
          metrics: { rate: sustainedRate },
          series: [{ id: 'latency-vs-rate', title: 'tools/list p99 against offered rate', x: { label: 'offered rate', unit: '/s' }, y: { label: 'p99', unit: 'ms' }, points }],
        };
      },
    };
  },
};

/** The strategies driver at run time: one proxy per strategy; `sessions` SDK clients calling a tool under the workload. */
import { connectMcp, type McpSessionClient } from '../../../load/mcp-client.js';
import { runClosedLoop } from '../../../load/closed-loop.js';
import { runOpenLoop } from '../../../load/open-loop.js';
import { scheduleOffsets } from '../../../load/schedule.js';
import { arrivalPattern, scheduleLength } from '../../workload.js';
import { join } from 'node:path';
import type { ScenarioPlan } from '../../plan.js';
import { scenarioController } from '../../scenario-controllers.js';
import { startScenarioProxy, type ScenarioProxyServer } from '../stdio-proxy.js';
import { errorCode, type DriverSession, type RunContext, type Sample, type ScenarioDriver, type TrialOutcome } from '../types.js';
import type { StrategiesSpec } from './spec.js';

type StrategyVariant = StrategiesSpec['variants'][number];

function sample(op: { ok: boolean; latencyMs: number; error?: unknown }): Sample {
  return op.ok ? { latencyMs: op.latencyMs, ok: true } : { latencyMs: op.latencyMs, ok: false, error: errorCode(op.error) };
}

/** The server's command, or a pool controller on the scenario's substrate activating its image per backend. */
async function proxyServer(spec: StrategiesSpec, plan: ScenarioPlan, context: RunContext): Promise<ScenarioProxyServer> {
  if (spec.server.image === undefined) return { command: spec.server.command! };
  const [first] = plan.variants;
  const controller = await scenarioController({
    name: 'strategies',
    stateDir: join(context.workDir, 'strategies-pool'),
    substrate: first!.substrate,
    size: 2,
    maxSize: spec.sessions + 4,
    maxWaitMs: 30_000,
    coldFallback: true,
    sandbox: 'auto',
    teardown: context.teardown,
  });
  context.progress(`backends from the controller at ${controller.url}`);
  return { pool: { controller: controller.url, token: controller.token, image: context.imageRef(spec.server.image, first!.link.name) } };
}

export const strategiesDriver: ScenarioDriver = {
  kind: 'strategies',
  async start(plan, context: RunContext): Promise<DriverSession> {
    const spec = plan.spec as StrategiesSpec;
    const server = await proxyServer(spec, plan, context);
    const endpoints = new Map<string, string>();
    for (const variant of spec.variants as StrategyVariant[]) {
      const proxy = await startScenarioProxy({ strategy: variant.strategy, server, name: variant.name, maxSessions: Math.max(100, spec.sessions) }, context);
      endpoints.set(variant.name, proxy.endpoint);
      context.progress(`proxy ${variant.name} (${variant.strategy}) at ${proxy.endpoint}`);
    }
    const { workload } = spec;
    const warmupMs = workload.warmup ?? 0;
    const call = (client: McpSessionClient) => client.client.callTool({ name: spec.call.tool, arguments: spec.call.arguments }).then((result) => {
      if (result.isError) throw Object.assign(new Error('the tool answered isError'), { code: 'TOOL_ERROR' });
      return result;
    });

    return {
      runTrial: async (_trial, planned): Promise<TrialOutcome> => {
        const endpoint = endpoints.get(planned.variant.name)!;
        const sessions = await Promise.all(Array.from({ length: spec.sessions }, () => connectMcp(endpoint)));
        try {
          if (workload.closed !== undefined) {
            const result = await runClosedLoop({
              concurrency: workload.closed.concurrency,
              ...(workload.duration !== undefined ? { durationMs: workload.duration } : { count: workload.count! }),
              operation: (index) => call(sessions[index % sessions.length]!),
              signal: context.signal,
            });
            const measured = result.operations.filter((op) => op.startMs >= warmupMs);
            const span = Math.max(...measured.map((op) => op.endedMs)) - warmupMs;
            return { samples: measured.map(sample), metrics: { throughput: span > 0 ? (measured.length * 1000) / span : Number.NaN } };
          }
          const result = await runOpenLoop({
            offsetsMs: scheduleOffsets(arrivalPattern(workload.open!, context.seed, context.traces), scheduleLength(workload)),
            operation: (index) => call(sessions[index % sessions.length]!),
            ...(workload.maxInFlight !== undefined ? { maxInFlight: workload.maxInFlight } : {}),
            signal: context.signal,
          });
          const measured = result.operations.filter((op) => op.plannedMs >= warmupMs);
          const dropped = result.droppedPlannedMs.filter((at) => at >= warmupMs).map((): Sample => ({ latencyMs: Number.NaN, ok: false, error: 'DROPPED' }));
          return { samples: [...measured.map(sample), ...dropped], metrics: { achievedRate: result.achievedRate } };
        } finally {
          await Promise.all(sessions.map((s) => s.close()));
        }
      },
    };
  },
};

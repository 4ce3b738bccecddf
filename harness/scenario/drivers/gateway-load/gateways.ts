/**
 * The gateways a gateway-load run measures, stood up once per run: a runner agent (its instance
 * endpoint), a pool controller (its MCP relay) and a stdio proxy per proxy variant. Each trial
 * opens its gateway's MCP endpoint (an activation on the agent or controller) and ends it after.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { callJson, errorFromAnswer } from '../../../../runner/http-json.js';
import { startAgentProcess } from '../../../benchmarks/agent-process.js';
import type { PlannedVariant, ScenarioPlan } from '../../plan.js';
import { scenarioController } from '../../scenario-controllers.js';
import { startScenarioProxy } from '../stdio-proxy.js';
import { AGENT_START_TIMEOUT_MS, type RunContext } from '../types.js';
import type { GatewayLoadSpec } from './spec.js';

export type GatewayVariant = GatewayLoadSpec['variants'][number];

/** A gateway's MCP endpoint for one trial, and how to give it up. */
export interface GatewayEndpoint {
  url: string;
  /** The bearer token it takes, if any. */
  token?: string;
  end(): Promise<void>;
}

export interface Gateways {
  open(planned: PlannedVariant): Promise<GatewayEndpoint>;
}

/** Starts what the plan's variants target; each is stopped by the run's teardown. */
export async function startGateways(plan: ScenarioPlan, context: RunContext): Promise<Gateways> {
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

  const open: Record<GatewayVariant['target'], (planned: PlannedVariant) => Promise<GatewayEndpoint>> = {
    agent: async (planned) => {
      const unreachable = { code: 'SERVICE_UNREACHABLE', what: 'the agent' } as const;
      const { status, json } = await callJson(new URL('/activate', agent!.url), { method: 'POST', token, body: { image: context.imageRef(spec.image!, planned.link.name) }, unreachable });
      if (status !== 201) throw errorFromAnswer(json.error ?? {}, status);
      return { url: new URL(json.endpoint, agent!.url).href, token, end: async () => void (await callJson(new URL(`/instances/${json.instanceId}`, agent!.url), { method: 'DELETE', token, unreachable })) };
    },
    controller: async (planned) => {
      const activation = await controller!.activate(context.imageRef(spec.image!, planned.link.name));
      return { url: new URL(activation.endpoint, controller!.url).href, token: controller!.token, end: () => controller!.end(activation.activationId) };
    },
    proxy: async (planned) => ({ url: proxies.get(planned.variant.name)!, end: async () => undefined }),
  };
  return { open: (planned) => open[(planned.variant as GatewayVariant).target](planned) };
}

/**
 * The gateway-load driver at run time: the gateways are stood up once; each trial opens its
 * variant's gateway endpoint and measures it with the variant's client: the MCP SDK's rising-rate
 * ramp (open loop) or autocannon's raw throughput (closed loop).
 */
import type { PlannedVariant } from '../../plan.js';
import type { DriverSession, RunContext, ScenarioDriver, TrialOutcome } from '../types.js';
import { runAutocannonTrial } from './autocannon-trial.js';
import { startGateways, type GatewayEndpoint, type GatewayVariant } from './gateways.js';
import { runSdkRamp } from './sdk-ramp.js';
import type { GatewayLoadSpec } from './spec.js';

const CLIENTS: Record<GatewayVariant['client'], (endpoint: GatewayEndpoint, spec: GatewayLoadSpec, planned: PlannedVariant, context: RunContext) => Promise<TrialOutcome>> = {
  sdk: runSdkRamp,
  autocannon: runAutocannonTrial,
};

export const gatewayLoadDriver: ScenarioDriver = {
  kind: 'gateway-load',
  async start(plan, context: RunContext): Promise<DriverSession> {
    const spec = plan.spec as GatewayLoadSpec;
    const gateways = await startGateways(plan, context);
    return {
      runTrial: async (_trial, planned) => {
        const endpoint = await gateways.open(planned);
        try {
          return await CLIENTS[(planned.variant as GatewayVariant).client](endpoint, spec, planned, context);
        } finally {
          await endpoint.end();
        }
      },
    };
  },
};

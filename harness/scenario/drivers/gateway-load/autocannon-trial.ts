/**
 * One `client: autocannon` trial: the MCP session opened first with the SDK (initialize and
 * notifications/initialized, taking Mcp-Session-Id and the agreed revision; none for the
 * stateless revision), then autocannon POSTing tools/list on it, closed loop, from a process of
 * its own; the session is ended after.
 */
import { McpWarmError } from '../../../../runner/errors.js';
import { LATEST_PROTOCOL_VERSION } from '../../../../runner/mcp/initialize.js';
import { STATELESS_PROTOCOL_VERSION } from '../../../../runner/mcp/http/revision.js';
import { runAutocannonProcess } from '../../../load/autocannon-process.js';
import { connectMcp, type McpSessionClient } from '../../../load/mcp-client.js';
import type { McpHttpAddressing } from '../../../load/mcp-http-load.js';
import type { PlannedVariant } from '../../plan.js';
import type { RunContext, TrialOutcome } from '../types.js';
import type { GatewayEndpoint, GatewayVariant } from './gateways.js';
import { AUTOCANNON_DEFAULTS, type GatewayLoadSpec } from './spec.js';
import { throughputLine, throughputOutcome } from './throughput.js';

const TOOLS_LIST = { method: 'tools/list' };

export async function runAutocannonTrial(endpoint: GatewayEndpoint, spec: GatewayLoadSpec, planned: PlannedVariant, context: RunContext): Promise<TrialOutcome> {
  const variant = planned.variant as GatewayVariant;
  let session: McpSessionClient | undefined;
  try {
    let addressing: McpHttpAddressing = { revision: STATELESS_PROTOCOL_VERSION };
    if ((variant.revision ?? LATEST_PROTOCOL_VERSION) === LATEST_PROTOCOL_VERSION) {
      session = await connectMcp(endpoint.url, endpoint.token);
      if (session.sessionId === undefined) throw new McpWarmError('SERVER_PROTOCOL', `${endpoint.url} answered initialize without an Mcp-Session-Id`);
      addressing = { revision: LATEST_PROTOCOL_VERSION, sessionId: session.sessionId, protocolVersion: session.protocolVersion ?? LATEST_PROTOCOL_VERSION };
    }
    const outcome = await runAutocannonProcess(
      {
        url: endpoint.url,
        call: TOOLS_LIST,
        addressing,
        ...(endpoint.token !== undefined ? { token: endpoint.token } : {}),
        connections: variant.connections ?? AUTOCANNON_DEFAULTS.connections,
        pipelining: variant.pipelining ?? AUTOCANNON_DEFAULTS.pipelining,
        durationMs: spec.workload.duration,
        warmupMs: spec.workload.warmup,
      },
      context.signal,
    );
    context.progress(throughputLine(planned.id, outcome));
    return throughputOutcome(outcome);
  } finally {
    await session?.close();
  }
}

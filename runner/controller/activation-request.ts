/**
 * The body of the controller's `POST /activations`: the agent's activation request plus `tier`,
 * the fastest tier the client accepts: `hot` (the default) takes a pre-activated instance when
 * the hot tier has one; `warm` skips the hot tier (a runner is claimed and the image activated on
 * it), which is how a benchmark compares the tiers.
 */
import { McpWarmError, isMcpWarmError } from '../errors.js';
import { parseActivationRequest, type ActivationRequest } from '../agent/activation-request.js';

export type RequestedTier = 'hot' | 'warm';

export interface ControllerActivationRequest {
  request: ActivationRequest;
  tier: RequestedTier;
}

interface Problem {
  field: string;
  message: string;
}

/** Parses the body; REQUEST_INVALID lists every problem (tier and the agent's fields) at once. */
export function parseControllerActivationRequest(body: unknown): ControllerActivationRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !('tier' in body)) return { request: parseActivationRequest(body), tier: 'hot' };
  const { tier, ...rest } = body as Record<string, unknown>;
  const problems: Problem[] = tier === 'hot' || tier === 'warm' ? [] : [{ field: 'tier', message: 'expected "hot" or "warm"' }];
  let request: ActivationRequest | undefined;
  try {
    request = parseActivationRequest(rest);
  } catch (error) {
    if (!(isMcpWarmError(error) && error.code === 'REQUEST_INVALID')) throw error;
    problems.push(...((error.details?.problems as Problem[] | undefined) ?? []));
  }
  if (problems.length > 0 || request === undefined) {
    throw new McpWarmError('REQUEST_INVALID', problems.map((p) => `${p.field}: ${p.message}`).join('; '), { details: { problems } });
  }
  return { request, tier: tier as RequestedTier };
}

/** The readiness timeout of a request that names none: the runner agent's default (`mcpwarm agent --readiness-timeout-ms`). */
export const AGENT_READINESS_TIMEOUT_MS = 30_000;

/** Default of the controller's activate grace: pulling, unpacking and starting the image, on top of the readiness timeout. */
export const DEFAULT_ACTIVATE_GRACE_MS = 60_000;

/**
 * How long a runner's agent may take to answer `POST /activate` before its runner counts as lost:
 * the request's own readiness timeout (a slow server is the agent's to time out and report) plus
 * `graceMs` for everything before the server starts.
 */
export function activateTimeoutMs(request: ActivationRequest, graceMs: number): number {
  return (request.readiness?.timeoutMs ?? AGENT_READINESS_TIMEOUT_MS) + graceMs;
}

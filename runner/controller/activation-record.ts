/**
 * An activation as the controller answers it, and as its runner records it (annotations), so a
 * restarted controller finds its activations on the substrate alone: a claimed runner's
 * annotations decide whether its activation is recovered, put back on the hot shelf, or released.
 */
import type { InstanceInfo } from '../agent/instance.js';
import type { Runner } from '../substrates/types.js';
import { ACTIVATION_ANNOTATION, IMAGE_ANNOTATION, TIER_ANNOTATION } from './claim.js';
import { ACTIVATION_STATE_ANNOTATION, CLAIMED_AT_ANNOTATION } from './reconcile-plan.js';

export type Tier = 'hot' | 'warm' | 'cold';

export interface Activation {
  activationId: string;
  runner: string;
  /** MCP Streamable HTTP for this activation, on the controller (relayed to the runner). */
  endpoint: string;
  /** The same on the runner itself (reachable from the controller's network only). */
  runnerEndpoint: string;
  tier: Tier;
  image: { ref: string; digest: string };
  /**
   * queueMs and claimMs add up every attempt; failedAttemptMs is the time spent on runners that
   * were lost (from the call to their agent until they were released); the agent's phases are
   * those of the attempt that succeeded; totalMs is from the request to the answer.
   */
  phases: Record<string, number>;
  /** The runner's cache before the activation: `layersMissed: 0` when it had the image (prefetched, or used before). */
  cache: { layersHit: number; layersMissed: number };
  /** Runners tried: 2 when the first was lost during the activation. */
  attempts: number;
  createdAt: string;
  /** Found on its runner by a restarted controller (phases are then the agent's alone). */
  recovered?: true;
}

/**
 * - `recover`: a client's activation: listed and served again.
 * - `shelve`: made ahead for the hot tier and never handed out: back on the shelf.
 * - `release`: a claim that names no activation or an unknown state: the runner is destroyed.
 * - `ignore`: not claimed (pool capacity); failed, gone or draining; or claimed for an activation
 *   still being made. That one may be another controller replica's; if its controller is gone,
 *   the reconcile loop deletes the runner once the claim is older than `abandonedClaimMs`.
 */
export type RecoveryAction = 'recover' | 'shelve' | 'release' | 'ignore';

export function recoveryAction(runner: Runner): RecoveryAction {
  if (runner.state !== 'claimed' || runner.phase !== 'running') return 'ignore';
  if (runner.endpoint === undefined || !runner.annotations[ACTIVATION_ANNOTATION] || !runner.annotations[IMAGE_ANNOTATION]) return 'release';
  const state = runner.annotations[ACTIVATION_STATE_ANNOTATION];
  if (state === undefined) return 'ignore';
  return state === 'active' ? 'recover' : state === 'shelved' ? 'shelve' : 'release';
}

function tierOf(value: string | undefined): Tier {
  return value === 'hot' || value === 'cold' ? value : 'warm';
}

/** The activation a claimed runner holds, from its annotations and its agent's view of the instance. */
export function recoveredActivation(runner: Runner, instance: InstanceInfo): Activation {
  const activationId = runner.annotations[ACTIVATION_ANNOTATION]!;
  return {
    activationId,
    runner: runner.id,
    endpoint: `/activations/${activationId}/mcp`,
    runnerEndpoint: new URL(instance.endpoint, runner.endpoint).href,
    tier: tierOf(runner.annotations[TIER_ANNOTATION]),
    image: instance.image,
    phases: { ...instance.phases },
    cache: instance.cache,
    attempts: 1,
    createdAt: runner.annotations[CLAIMED_AT_ANNOTATION] ?? instance.createdAt,
    recovered: true,
  };
}

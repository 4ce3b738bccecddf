/**
 * What a failure says about a runner: after a failed activation, whether to try another runner
 * and whether this one can be given back; after a check of a live activation, whether it ended.
 * Pure, so each rule is unit-tested; the controller carries the decisions out.
 */
import type { ErrorCode } from '../errors.js';
import type { RunnerPhase } from '../substrates/types.js';

/**
 * - `runner-lost`: the runner's agent stopped answering, or the runner went away: tried once more
 *   on another runner; this one is replaced.
 * - `refused`: the agent refused the request before anything of the image ran: not retried (any
 *   runner would refuse it too), and the runner goes back to the pool unused.
 * - `failed`: the image's server was started and failed: not retried; the runner is replaced,
 *   since it ran something (single use).
 */
export type ActivationFailure = 'runner-lost' | 'refused' | 'failed';

/**
 * Codes an agent answers before it starts anything of the image: a bad request, an image it may
 * not or cannot get, a layer it refuses, a user or program the image lacks. The agent unwinds
 * what it built for them, so the runner is as it was.
 */
const BEFORE_START: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'REQUEST_INVALID',
  'REQUEST_TOO_LARGE',
  'REF_INVALID',
  'IMAGE_NOT_ALLOWED',
  'IMAGE_NOT_FOUND',
  'REGISTRY_UNREACHABLE',
  'REGISTRY_INSECURE_REFUSED',
  'REGISTRY_AUTH_FAILED',
  'REGISTRY_PROTOCOL',
  'REGISTRY_UNAVAILABLE',
  'MANIFEST_INVALID',
  'MANIFEST_UNSUPPORTED',
  'PLATFORM_NOT_FOUND',
  'BLOB_DIGEST_MISMATCH',
  'BLOB_SIZE_MISMATCH',
  'LAYER_MEDIA_TYPE_UNSUPPORTED',
  'UNPACK_PATH_ESCAPE',
  'UNPACK_SYMLINK_TRAVERSAL',
  'UNPACK_LIMIT_EXCEEDED',
  'UNPACK_CORRUPT',
  'USER_NOT_FOUND',
  'ENTRYPOINT_NOT_FOUND',
]);

export interface FailedActivation {
  /** Whether the agent answered at all (false: the connection failed or was cut). */
  answered: boolean;
  /** The coded error it answered with. */
  code?: ErrorCode;
  /** The runner's phase as the pool sees it now; `absent` when it is no longer there. */
  runnerPhase: RunnerPhase | 'absent';
}

export function classifyActivationFailure(failure: FailedActivation): ActivationFailure {
  const phase = failure.runnerPhase;
  if (!failure.answered || phase === 'gone' || phase === 'failed' || phase === 'absent') return 'runner-lost';
  return failure.code !== undefined && BEFORE_START.has(failure.code) ? 'refused' : 'failed';
}

/** A check of one live activation: its runner's answer to GET /instances/ID, if any. */
export type InstanceCheck =
  | { answered: false; timedOut: boolean }
  | { answered: true; status: number; state?: string };

/** `alive`; `server-exited` and `runner-lost` end the activation; `unknown` is checked again later. */
export type InstanceVerdict = 'alive' | 'server-exited' | 'runner-lost' | 'unknown';

export function instanceVerdict(check: InstanceCheck): InstanceVerdict {
  // A slow answer is not a dead runner (the machine may be busy); a refused or cut connection is.
  if (!check.answered) return check.timedOut ? 'unknown' : 'runner-lost';
  // The agent forgets an instance once its server exited and was taken down.
  if (check.status === 404) return 'server-exited';
  if (check.status === 200) return check.state === 'running' ? 'alive' : 'server-exited';
  return 'unknown';
}

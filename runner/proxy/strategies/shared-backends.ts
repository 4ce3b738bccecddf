/**
 * Strategies whose sessions share a fixed set of backends, each initialized once when the proxy
 * starts and attached one request at a time (request-attach, response-detach): S-RARD with one
 * backend, P-RARD with K. Every session is answered initialize from the first backend's cached
 * result, so the servers never see a second initialize.
 */
import { McpWarmError } from '../../errors.js';
import type { ClientCall } from '../../mcp/http/client-call.js';
import type { JsonObject } from '../../mcp/jsonrpc.js';
import { leastLoaded } from '../dispatch-plan.js';
import type { BackendPool } from '../backend-pool.js';
import type { BackendSlot } from '../backend-slot.js';
import type { ProxyStrategy, StrategyName } from '../strategy.js';

export interface SharedBackendsPolicy {
  name: StrategyName;
  backends: number;
  /** Whether a request pins its session to the backend it goes to (affinity). */
  pinsSession(call: ClientCall): boolean;
}

export function sharedBackendsStrategy(policy: SharedBackendsPolicy): ProxyStrategy {
  let initializeResult: JsonObject | undefined;
  const cached = async (): Promise<JsonObject> => {
    if (!initializeResult) throw new McpWarmError('SERVER_EXITED', 'the backends have not started yet');
    return initializeResult;
  };
  return {
    name: policy.name,
    backendCapacity: 1,
    sharesBackends: true,

    async start(pool) {
      // Every start is awaited, failed or not, so a failure leaves no backend starting behind the caller's back.
      const started = await Promise.allSettled(Array.from({ length: policy.backends }, () => pool.startSlot({ ids: 'rewrite' })));
      const failure = started.find((outcome) => outcome.status === 'rejected');
      if (failure) throw (failure as PromiseRejectedResult).reason;
      initializeResult = (started[0] as PromiseFulfilledResult<BackendSlot>).value.initializeResult;
    },
    saturation: () => undefined,
    openSession: cached,
    prepare: () => undefined,
    pinsSession: policy.pinsSession,
    settled: () => undefined,
    endSession: async () => undefined,
    discover: cached,
    async listenSlot(pool: BackendPool) {
      const slots = pool.slots;
      const chosen = leastLoaded(slots.map((slot) => ({ ready: slot.status === 'ready', load: slot.load, capacity: Infinity, served: slot.served })));
      return slots[chosen ?? 0]!;
    },
    unlistened: () => undefined,
    close: () => undefined,
  };
}

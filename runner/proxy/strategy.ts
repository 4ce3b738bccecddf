/**
 * A scaling strategy: the policy the backend pool (backend-pool.ts) follows, one folder per
 * strategy under strategies/. The pool does the mechanics (queue, dispatch, pins, timeouts,
 * restarts); a strategy says which backends exist, what a session is answered with, where a
 * request may go and how many requests a backend takes at once.
 */
import type { ClientCall } from '../mcp/http/client-call.js';
import type { McpSession } from '../mcp/http/session.js';
import type { JsonObject } from '../mcp/jsonrpc.js';
import type { BackendPool } from './backend-pool.js';
import type { BackendSlot } from './backend-slot.js';

export const STRATEGY_NAMES = ['s-rard', 'p-rard', 'per-session'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

export interface ProxyStrategy {
  readonly name: StrategyName;
  /** Requests one backend takes at once (1: attach one at a time, at a serial stdio server's own pace). */
  readonly backendCapacity: number;
  /** Whether sessions share backends: then a session without a backend of its own hears every backend's list_changed. */
  readonly sharesBackends: boolean;
  /** Starts what must run before the proxy takes requests. */
  start(pool: BackendPool): Promise<void>;
  /** Why the pool cannot take on another backend for this session or stateless request now, if it cannot. */
  saturation(pool: BackendPool, session: McpSession): string | undefined;
  /** The initialize result a new session is answered with (after starting a backend of its own, if it gets one). */
  openSession(pool: BackendPool, session: McpSession): Promise<JsonObject>;
  /** Gives a call a backend of its own before it is queued (pinning its session there), when the strategy does that. */
  prepare(pool: BackendPool, call: ClientCall): Promise<void> | undefined;
  /** Whether the backend a call goes to becomes its session's for good (affinity). */
  pinsSession(call: ClientCall): boolean;
  /** A call was answered or given up. */
  settled(pool: BackendPool, call: ClientCall): void;
  /** A session ended (its calls are already given up). */
  endSession(pool: BackendPool, session: McpSession): Promise<void>;
  /** The initialize result server/discover reports. */
  discover(pool: BackendPool, session: McpSession): Promise<JsonObject>;
  /** The backend a listen stream's resource subscriptions go to. */
  listenSlot(pool: BackendPool, session: McpSession): Promise<BackendSlot>;
  /** A listen stream on `slot` ended. */
  unlistened(pool: BackendPool, slot: BackendSlot, session: McpSession): void;
  /** The pool is closing: timers stop. */
  close(): void;
}

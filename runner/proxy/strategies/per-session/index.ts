/**
 * Server per session (toolhive#1589 option C): every 2025-11-25 session gets a backend of its
 * own, started at its initialize with the client's own capabilities and clientInfo (so sampling,
 * elicitation and roots work as with a local server), its ids passed through unchanged. It is
 * stopped (stdin closed, SIGTERM, SIGKILL) on DELETE or when the session idles out; the session id
 * then gets 404. A 2026-07-28 request has no session: it gets a backend for itself alone, stopped
 * once it is answered, unless the proxy has a key header: requests with the same key share one
 * backend (ids rewritten), stopped after the idle timeout. Live backends are capped
 * (--max-sessions): beyond the cap, 503 PROXY_SATURATED.
 */
import type { JsonObject } from '../../../mcp/jsonrpc.js';
import type { IdMode } from '../../../mcp/http/backend-router.js';
import type { McpSession } from '../../../mcp/http/session.js';
import type { BackendPool } from '../../backend-pool.js';
import type { BackendSlot } from '../../backend-slot.js';
import type { ProxyStrategy } from '../../strategy.js';

export interface PerSessionSettings {
  /** Live backends at most: sessions, stateless requests and keyed clients together. */
  maxBackends: number;
  /** A keyed client's backend is stopped after this long with nothing to do. */
  idleTimeoutMs: number;
}

interface KeyedBackend {
  slot: Promise<BackendSlot>;
  started: BackendSlot | undefined;
  lastUsedMs: number;
}

export function perSessionStrategy(settings: PerSessionSettings): ProxyStrategy {
  const keyed = new Map<string, KeyedBackend>();
  let knownInitialize: JsonObject | undefined;
  let reaper: NodeJS.Timeout | undefined;

  const full = (pool: BackendPool): string | undefined =>
    pool.slots.length >= settings.maxBackends ? `all ${settings.maxBackends} backends are in use (--max-sessions)` : undefined;

  async function ownSlot(pool: BackendPool, session: McpSession, ids: IdMode): Promise<BackendSlot> {
    const why = full(pool);
    if (why !== undefined) throw pool.saturated(why, null);
    const slot = await pool.startSlot({ ids, client: session.client });
    knownInitialize ??= slot.initializeResult;
    return slot;
  }

  /** A stateless client's backend: its key's (kept until idle), else one for this request or stream alone. */
  function statelessSlot(pool: BackendPool, session: McpSession): Promise<BackendSlot> {
    const key = session.key;
    if (key === undefined) return ownSlot(pool, session, 'pass-through');
    const existing = keyed.get(key);
    if (existing) {
      existing.lastUsedMs = Date.now();
      return existing.slot;
    }
    // Requests of one key may run at once: their ids are rewritten.
    const entry: KeyedBackend = { slot: ownSlot(pool, session, 'rewrite'), started: undefined, lastUsedMs: Date.now() };
    keyed.set(key, entry);
    entry.slot.then(
      (slot) => (entry.started = slot),
      () => keyed.get(key) === entry && keyed.delete(key),
    );
    return entry.slot;
  }

  /** Stops a stateless client's backend unless its key keeps it. */
  function release(pool: BackendPool, slot: BackendSlot, session: McpSession): void {
    if (session.key === undefined) void pool.stopSlot(slot);
    else {
      const entry = keyed.get(session.key);
      if (entry) entry.lastUsedMs = Date.now();
    }
  }

  function reapIdle(pool: BackendPool): void {
    const now = Date.now();
    for (const [key, entry] of keyed) {
      const slot = entry.started;
      if (!slot || slot.load > 0 || pool.listenersOn(slot) > 0 || now - entry.lastUsedMs < settings.idleTimeoutMs) continue;
      keyed.delete(key);
      void pool.stopSlot(slot);
    }
  }

  return {
    name: 'per-session',
    backendCapacity: Infinity,
    sharesBackends: false,

    async start(pool) {
      reaper = setInterval(() => reapIdle(pool), Math.max(50, Math.min(1000, settings.idleTimeoutMs / 2))).unref();
    },
    saturation: (pool, session) => (session.key !== undefined && keyed.has(session.key) ? undefined : full(pool)),
    async openSession(pool, session) {
      const slot = await ownSlot(pool, session, 'pass-through');
      pool.pin(session, slot);
      return slot.initializeResult;
    },
    prepare(pool, call) {
      if (!call.session.stateless) return undefined;
      return statelessSlot(pool, call.session).then((slot) => {
        // The client may have gone while its backend started.
        if (call.settled) release(pool, slot, call.session);
        else pool.pin(call.session, slot);
      });
    },
    pinsSession: () => false,
    settled(pool, call) {
      const slot = pool.pinOf(call.session);
      if (!call.session.stateless || !slot) return;
      pool.unpin(call.session);
      release(pool, slot, call.session);
    },
    async endSession(pool, session) {
      const slot = pool.pinOf(session);
      if (slot) await pool.stopSlot(slot);
    },
    async discover(pool, session) {
      if (knownInitialize) return knownInitialize;
      const slot = await statelessSlot(pool, session);
      release(pool, slot, session);
      return slot.initializeResult;
    },
    listenSlot: (pool, session) => statelessSlot(pool, session),
    unlistened: (pool, slot, session) => release(pool, slot, session),
    close() {
      clearInterval(reaper);
    },
  };
}

/**
 * The proxy's backends behind the Streamable HTTP front (an McpUpstream), run by a strategy's
 * policy. Requests wait in one bounded queue and are attached, oldest first, as backends have
 * room (dispatch-plan.ts): to their session's backend when the session is pinned to one, else to
 * the least-loaded ready backend. A request that would have to wait while the queue is full is
 * refused with 503 PROXY_SATURATED and a Retry-After; a request not answered within the request
 * timeout (queue time included) gets a JSON-RPC error, and the backend is sent
 * notifications/cancelled for it.
 */
import { performance } from 'node:perf_hooks';
import { McpWarmError, isMcpWarmError } from '../errors.js';
import type { Audience, IdMode } from '../mcp/http/backend-router.js';
import type { ClientCall } from '../mcp/http/client-call.js';
import { McpHttpError } from '../mcp/http/http-io.js';
import type { ListenFilter } from '../mcp/http/listen-filter.js';
import type { ListenStream } from '../mcp/http/listen-stream.js';
import type { ClientDeclaration, McpSession, SessionTable } from '../mcp/http/session.js';
import type { McpUpstream } from '../mcp/http/upstream.js';
import { JSONRPC_ERROR, type JsonObject, type JsonRpcId, type JsonRpcNotification } from '../mcp/jsonrpc.js';
import { BackendSlot } from './backend-slot.js';
import type { BackendSource } from './backends/types.js';
import { planDispatch, retryAfterSeconds, type WaitingRequest } from './dispatch-plan.js';
import type { ProxyStrategy } from './strategy.js';

/** What the pool reports as it works (metrics and logs). */
export interface PoolObserver {
  attached(call: ClientCall): void;
  settled(call: ClientCall): void;
  backendStarted(slot: BackendSlot, ms: number): void;
  backendCrashed(slot: BackendSlot, error: Error, label: string): void;
  backendRestartFailed(slot: BackendSlot, error: Error): void;
  refused(reason: 'queue' | 'sessions'): void;
}

export interface BackendPoolOptions {
  source: BackendSource;
  strategy: ProxyStrategy;
  sessions: SessionTable;
  /** Requests that may wait for a backend. */
  maxQueue: number;
  /** From arrival to answer, queue time included. */
  requestTimeoutMs: number;
  observer: PoolObserver;
}

export interface PoolStats {
  queueDepth: number;
  /** Backends that take requests now. */
  liveBackends: number;
  /** Backends kept, including those starting or being replaced. */
  backends: number;
  inFlight: number;
  sessions: number;
  listeners: number;
  restarts: number;
}

/** Weight of the newest sample in the mean service time behind Retry-After. */
const SERVICE_TIME_WEIGHT = 0.2;

export class BackendPool implements McpUpstream {
  private readonly slotList: BackendSlot[] = [];
  private readonly waiting: ClientCall[] = [];
  private readonly calls = new Set<ClientCall>();
  private readonly pins = new Map<McpSession, BackendSlot>();
  private readonly pinned = new Map<BackendSlot, Set<McpSession>>();
  private readonly listeners = new Map<ListenStream, { slot: BackendSlot; session: McpSession }>();
  private meanServiceMs = 0;
  private pumping = false;
  private pumpAgain = false;
  private closing = false;

  constructor(private readonly options: BackendPoolOptions) {}

  get strategy(): ProxyStrategy {
    return this.options.strategy;
  }

  get slots(): readonly BackendSlot[] {
    return this.slotList;
  }

  stats(): PoolStats {
    return {
      queueDepth: this.waiting.length,
      liveBackends: this.slotList.filter((slot) => slot.status === 'ready').length,
      backends: this.slotList.length,
      inFlight: this.slotList.reduce((sum, slot) => sum + slot.load, 0),
      sessions: this.options.sessions.size,
      listeners: this.listeners.size,
      restarts: this.slotList.reduce((sum, slot) => sum + slot.restarts, 0),
    };
  }

  /** Starts a backend of the pool and waits until it is ready; a failure leaves nothing behind. */
  async startSlot(options: { ids: IdMode; client?: ClientDeclaration }): Promise<BackendSlot> {
    if (this.closing) throw new McpWarmError('SERVER_EXITED', 'the proxy is stopping');
    const observer = this.options.observer;
    const slot: BackendSlot = new BackendSlot({
      source: this.options.source,
      ids: options.ids,
      ...(options.client ? { client: options.client } : {}),
      audience: this.audienceOf(() => slot),
      events: {
        ready: () => this.pump(),
        started: (started, ms) => observer.backendStarted(started, ms),
        crashed: (crashed, error, label) => observer.backendCrashed(crashed, error, label),
        restartFailed: (failed, error) => observer.backendRestartFailed(failed, error),
      },
    });
    this.slotList.push(slot);
    try {
      await slot.start();
    } catch (error) {
      await this.stopSlot(slot);
      throw error;
    }
    if (this.closing) {
      await this.stopSlot(slot);
      throw new McpWarmError('SERVER_EXITED', 'the proxy is stopping');
    }
    return slot;
  }

  /** Stops a backend and forgets it (its pins go with it). */
  async stopSlot(slot: BackendSlot): Promise<void> {
    const at = this.slotList.indexOf(slot);
    if (at >= 0) this.slotList.splice(at, 1);
    for (const session of this.pinned.get(slot) ?? []) this.pins.delete(session);
    this.pinned.delete(slot);
    await slot.stop();
  }

  pin(session: McpSession, slot: BackendSlot): void {
    this.unpin(session);
    this.pins.set(session, slot);
    let holders = this.pinned.get(slot);
    if (!holders) this.pinned.set(slot, (holders = new Set()));
    holders.add(session);
  }

  unpin(session: McpSession): void {
    const slot = this.pins.get(session);
    if (!slot) return;
    this.pins.delete(session);
    this.pinned.get(slot)?.delete(session);
  }

  pinOf(session: McpSession): BackendSlot | undefined {
    return this.pins.get(session);
  }

  /** Listen streams whose subscriptions are on `slot`. */
  listenersOn(slot: BackendSlot): number {
    return [...this.listeners.values()].filter((entry) => entry.slot === slot).length;
  }

  /** A 503 PROXY_SATURATED with a Retry-After from the queue and the mean service time. */
  saturated(message: string, id: JsonRpcId | null): McpHttpError {
    const seconds = retryAfterSeconds(this.waiting.length, Math.max(1, this.stats().liveBackends), this.meanServiceMs);
    return new McpHttpError(503, 'PROXY_SATURATED', message, { id, headers: { 'retry-after': String(seconds) } });
  }

  refusal(id: JsonRpcId | null, session?: McpSession): McpHttpError | undefined {
    if (this.closing) return new McpHttpError(503, 'SERVER_EXITED', 'the proxy is stopping', { id });
    if (!session) return undefined;
    if (session.stateless && this.pins.get(session) === undefined) {
      const why = this.strategy.saturation(this, session);
      if (why !== undefined) {
        this.options.observer.refused('sessions');
        return this.saturated(why, id);
      }
    }
    if (this.waiting.length >= this.options.maxQueue && !this.hasRoomFor(session)) {
      this.options.observer.refused('queue');
      return this.saturated(`the queue is full (${this.options.maxQueue} requests wait for a backend)`, id);
    }
    return undefined;
  }

  async openSession(session: McpSession): Promise<JsonObject> {
    return this.strategy.openSession(this, session);
  }

  submit(call: ClientCall): void {
    this.calls.add(call);
    const preparing = this.strategy.prepare(this, call);
    if (!preparing) this.enqueue(call);
    else {
      preparing.then(
        () => this.enqueue(call),
        (error: unknown) => call.end(isMcpWarmError(error) ? `${error.code}: ${error.message}` : String(error), true, JSONRPC_ERROR.server),
      );
    }
    // Set once the request is on its way: the timeout's bookkeeping does not delay it. A call answered at once settles here.
    const timeoutMs = this.options.requestTimeoutMs;
    const timer = setTimeout(() => call.abandon(`no answer within ${timeoutMs} ms`, true), timeoutMs);
    call.onSettled(() => {
      clearTimeout(timer);
      this.settled(call);
    });
  }

  notify(session: McpSession, notification: JsonRpcNotification): void {
    const pinned = this.pins.get(session);
    const slots = pinned ? [pinned] : this.strategy.sharesBackends ? this.slotList : [];
    for (const slot of slots) slot.router?.notify(notification);
  }

  async endSession(session: McpSession, reason: string): Promise<void> {
    const pinned = this.pins.get(session);
    const slots = this.strategy.sharesBackends ? this.slotList : pinned ? [pinned] : [];
    for (const slot of slots) slot.endSession(session, reason);
    await this.strategy.endSession(this, session);
    this.unpin(session);
  }

  discover(session: McpSession): Promise<JsonObject> {
    return this.strategy.discover(this, session);
  }

  async listen(stream: ListenStream, session: McpSession): Promise<ListenFilter> {
    const slot = await this.strategy.listenSlot(this, session);
    this.listeners.set(stream, { slot, session });
    await slot.whenReady();
    const router = slot.router;
    if (!router) throw new McpWarmError('SERVER_EXITED', 'the backend of this listen stream went down as it started; listen again');
    return router.listen(stream, slot.initializeResult.capabilities);
  }

  unlisten(stream: ListenStream): void {
    const entry = this.listeners.get(stream);
    if (!entry) return;
    this.listeners.delete(stream);
    entry.slot.unsubscribeListener(stream);
    this.strategy.unlistened(this, entry.slot, entry.session);
  }

  /** Gives up every request (the backends are sent notifications/cancelled) and stops every backend. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const call of [...this.calls]) call.abandon('the proxy is stopping', true);
    this.strategy.close();
    await Promise.all([...this.slotList].map((slot) => this.stopSlot(slot)));
  }

  private settled(call: ClientCall): void {
    this.calls.delete(call);
    if (call.attachedAt !== undefined) {
      const serviceMs = performance.now() - call.attachedAt;
      this.meanServiceMs = this.meanServiceMs === 0 ? serviceMs : this.meanServiceMs + SERVICE_TIME_WEIGHT * (serviceMs - this.meanServiceMs);
    }
    this.strategy.settled(this, call);
    this.options.observer.settled(call);
    this.pump();
  }

  /** Who hears a backend's messages that answer no request (see BackendRouter). */
  private audienceOf(slot: () => BackendSlot): Audience {
    const table = this.options.sessions;
    const pool = this;
    function* sessions(): Generator<McpSession> {
      yield* pool.pinned.get(slot()) ?? [];
      if (!pool.strategy.sharesBackends) return;
      for (const session of table) if (!pool.pins.has(session)) yield session;
    }
    return {
      sessions,
      soleSession() {
        let sole: McpSession | undefined;
        for (const session of sessions()) {
          if (sole) return undefined;
          sole = session;
        }
        return sole;
      },
      listeners: () => [...pool.listeners].filter(([, entry]) => pool.strategy.sharesBackends || entry.slot === slot()).map(([stream]) => stream),
    };
  }

  private hasRoomFor(session: McpSession): boolean {
    const capacity = this.strategy.backendCapacity;
    const pinned = this.pins.get(session);
    if (pinned) return pinned.status === 'ready' && pinned.load < capacity;
    return this.slotList.some((slot) => slot.status === 'ready' && slot.load < capacity);
  }

  private enqueue(call: ClientCall): void {
    if (call.settled) return;
    this.waiting.push(call);
    call.holdBy((reason, answer) => {
      const at = this.waiting.indexOf(call);
      if (at >= 0) this.waiting.splice(at, 1);
      call.end(`the request was cancelled: ${reason} (it was still waiting for a backend)`, answer);
    });
    this.pump();
  }

  /** Attaches what can go now; re-entered calls (an answer given at once) run again after the current pass. */
  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        this.dispatch();
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  private dispatch(): void {
    if (this.waiting.length === 0) return;
    // Without shared backends a request can only go to its session's own, and that one is gone.
    const orphans = this.strategy.sharesBackends ? [] : this.waiting.filter((call) => !this.pins.has(call.session));
    if (orphans.length > 0) {
      this.waiting.splice(0, this.waiting.length, ...this.waiting.filter((call) => !orphans.includes(call)));
      for (const call of orphans) call.end('the backend of this session is gone', true);
    }
    const capacity = this.strategy.backendCapacity;
    const plan = planDispatch(
      this.waiting.map((call): WaitingRequest => {
        const pinned = this.pins.get(call.session);
        const at = pinned === undefined ? -1 : this.slotList.indexOf(pinned);
        return { pin: at < 0 ? undefined : at, group: call.session, pinsGroup: this.strategy.pinsSession(call) };
      }),
      this.slotList.map((slot) => ({ ready: slot.status === 'ready', load: slot.load, capacity, served: slot.served })),
    );
    if (plan.length === 0) return;
    const assigned = plan.map((assignment) => ({ call: this.waiting[assignment.waiting]!, slot: this.slotList[assignment.backend]! }));
    if (assigned.length === this.waiting.length) this.waiting.length = 0;
    else {
      const taken = new Set(plan.map((assignment) => assignment.waiting));
      this.waiting.splice(0, this.waiting.length, ...this.waiting.filter((_call, at) => !taken.has(at)));
    }
    for (const { call, slot } of assigned) this.attach(call, slot);
  }

  private attach(call: ClientCall, slot: BackendSlot): void {
    if (call.settled) return;
    slot.served += 1;
    if (this.strategy.pinsSession(call) && !this.pins.has(call.session)) this.pin(call.session, slot);
    slot.router!.attach(call);
    this.options.observer.attached(call);
  }
}

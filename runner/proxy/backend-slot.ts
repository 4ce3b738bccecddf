/**
 * One backend the proxy keeps: started and initialized, replaced when it dies (requests in flight
 * get a JSON-RPC error; restarts back off exponentially while starts keep failing), and stopped on
 * demand. What its clients set on it (resource subscriptions, the log level) is kept in a
 * BackendState that outlives the process: a replacement has it replayed before it takes requests.
 */
import { performance } from 'node:perf_hooks';
import { BackendRouter, BackendState, type Audience, type IdMode } from '../mcp/http/backend-router.js';
import type { ListenStream } from '../mcp/http/listen-stream.js';
import type { ClientDeclaration, McpSession } from '../mcp/http/session.js';
import type { JsonObject } from '../mcp/jsonrpc.js';
import type { BackendSource, RunningBackend } from './backends/types.js';

export type SlotStatus = 'starting' | 'ready' | 'restarting' | 'stopped';

export interface SlotEvents {
  /** It takes requests (first started, or replaced). */
  ready(slot: BackendSlot): void;
  /** A backend was started and initialized, in `ms`. */
  started(slot: BackendSlot, ms: number): void;
  /** Its backend (`label`) died (requests in flight got an error); a replacement is on its way. */
  crashed(slot: BackendSlot, error: Error, label: string): void;
  /** A replacement failed to start; another try follows. */
  restartFailed(slot: BackendSlot, error: Error): void;
}

export interface SlotOptions {
  source: BackendSource;
  ids: IdMode;
  audience: Audience;
  /** The client a backend of its own is for (its capabilities go into initialize). */
  client?: ClientDeclaration;
  events: SlotEvents;
}

const RESTART_BASE_MS = 100;
const RESTART_MAX_MS = 5000;
/** A backend that ran this long before dying was healthy: its replacement starts at once. */
const HEALTHY_RUN_MS = 10_000;

export class BackendSlot {
  readonly state = new BackendState();
  /** Requests it has taken: how sessions that pin themselves, and listen streams, spread over the pool. */
  served = 0;
  restarts = 0;
  private currentStatus: SlotStatus = 'starting';
  private running: { backend: RunningBackend; router: BackendRouter; readyAt: number } | undefined;
  private lastInitializeResult: JsonObject | undefined;
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  /** A start in progress: stop() waits for it, so nothing it starts outlives the slot. */
  private launching: Promise<void> | undefined;
  private readyWaiters: Array<{ resolve(): void; reject(error: Error): void }> = [];

  constructor(private readonly options: SlotOptions) {}

  get status(): SlotStatus {
    return this.currentStatus;
  }

  /** The router of a ready backend; undefined while it starts or is being replaced. */
  get router(): BackendRouter | undefined {
    return this.currentStatus === 'ready' ? this.running?.router : undefined;
  }

  get load(): number {
    return this.running?.router.load ?? 0;
  }

  /** The server's initialize result (of the latest backend that answered it). */
  get initializeResult(): JsonObject {
    if (!this.lastInitializeResult) throw new Error('the backend has not been initialized yet');
    return this.lastInitializeResult;
  }

  /** Starts the first backend; its failure is the caller's (a coded error), with nothing left running. */
  async start(): Promise<void> {
    await this.launch();
  }

  /** Resolves once the slot takes requests; rejects if it is stopped first. */
  whenReady(): Promise<void> {
    if (this.currentStatus === 'ready') return Promise.resolve();
    if (this.currentStatus === 'stopped') return Promise.reject(new Error('the backend was stopped'));
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** A session ended: its requests here are cancelled and its subscriptions given up (in the recorded state while the server is down). */
  endSession(session: McpSession, reason: string): void {
    const router = this.running?.router;
    if (router) router.endSession(session, reason);
    else this.state.subscriptions.drop(session);
  }

  /** Gives up a listen stream's subscriptions, on the server when it is up, else in the recorded state. */
  unsubscribeListener(stream: ListenStream): void {
    const router = this.running?.router;
    if (router) router.unsubscribeListener(stream);
    else this.state.subscriptions.drop(stream);
  }

  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.currentStatus = 'stopped';
    clearTimeout(this.restartTimer);
    for (const waiter of this.readyWaiters.splice(0)) waiter.reject(new Error('the backend was stopped'));
    const running = this.running;
    this.running = undefined;
    this.stopping = (async () => {
      if (running) {
        running.router.detach();
        await running.backend.stop();
      }
      await this.launching?.catch(() => undefined);
    })();
    return this.stopping;
  }

  private get stopped(): boolean {
    return this.currentStatus === 'stopped';
  }

  private launch(): Promise<void> {
    const launching = this.startBackend();
    this.launching = launching;
    return launching;
  }

  private async startBackend(): Promise<void> {
    const startedAt = performance.now();
    const backend = await this.options.source.start(this.options.client ? { client: this.options.client } : {});
    if (this.stopped) {
      await backend.stop();
      return;
    }
    const router = new BackendRouter(backend.channel, { ids: this.options.ids, audience: this.options.audience, state: this.state });
    this.running = { backend, router, readyAt: Date.now() };
    this.lastInitializeResult = backend.initializeResult;
    this.options.events.started(this, performance.now() - startedAt);
    // Registered after the router's own listener: requests in flight have their error before the replacement starts.
    backend.channel.on('close', (error) => this.crashed(backend, error));
    await router.replay();
    if (this.stopped || this.running?.backend !== backend || backend.channel.closed) return;
    this.running.readyAt = Date.now();
    this.currentStatus = 'ready';
    for (const waiter of this.readyWaiters.splice(0)) waiter.resolve();
    this.options.events.ready(this);
  }

  private crashed(backend: RunningBackend, error: Error): void {
    if (this.stopped || this.running?.backend !== backend) return;
    const { router, readyAt } = this.running;
    router.detach();
    void backend.stop();
    this.running = undefined;
    this.currentStatus = 'restarting';
    if (Date.now() - readyAt >= HEALTHY_RUN_MS) this.failures = 0;
    this.options.events.crashed(this, error, backend.label);
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    const delayMs = this.failures === 0 ? 0 : Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** (this.failures - 1));
    this.failures += 1;
    this.restartTimer = setTimeout(() => {
      this.restarts += 1;
      this.launch().catch((error: unknown) => {
        if (this.stopped) return;
        this.options.events.restartFailed(this, error as Error);
        this.scheduleRestart();
      });
    }, delayMs);
  }
}

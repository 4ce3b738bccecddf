/**
 * A pool of runners on a substrate: a view kept from list + watch, a reconcile loop that carries
 * out planReconcile, prefetching into new runners before they are claimable, and claims
 * (compare-and-set) with a bounded-wait queue and an optional cold fallback. The pool's truth is
 * on the substrate; a restarted controller recovers it from there.
 */
import { performance } from 'node:perf_hooks';
import { McpWarmError } from '../errors.js';
import { shuffled } from '../shuffle.js';
import type { Runner, RunnerPatch, RunnerTemplate, Substrate } from '../substrates/types.js';
import { CLAIM_ANNOTATIONS, claimable, claimRunner, untilClaimable, type ClaimRequest } from './claim.js';
import {
  backoffDelayMs,
  decideColdFallback,
  DEFAULT_MAX_COLD_RUNNERS,
  planReconcile,
  type CreationHistory,
  type DeleteReason,
  type PoolPolicy,
  type ReconcilePlan,
} from './reconcile-plan.js';
import { awaitingPrefetch, PREFETCHED_ANNOTATION, type PoolRunner, type PoolRunnerPhase, type PrefetchOutcome } from './prefetch.js';
import { PrefetchRuns, type PoolPrefetch, type PrefetchStatus } from './runner-prefetch.js';
import { updateRate, warmTarget, type RateEstimate, type SizingConfig } from './sizing.js';
import { WaitQueue, type WaitOutcome } from './wait-queue.js';

/** How long a cold-fallback runner may take to be ready before the activation fails. */
const COLD_READY_TIMEOUT_MS = 60_000;

export interface PoolOptions {
  substrate: Substrate;
  template: RunnerTemplate;
  policy: PoolPolicy;
  /** How long an activation may wait for a warm runner before the fallback or a 503. */
  maxWaitMs: number;
  maxQueue: number;
  /** With no warm runner in time: create a fresh runner for this activation (tier "cold"). */
  coldFallback: boolean;
  /** Cold-fallback runners being made at once, at most (default 2); past it, POOL_EXHAUSTED. */
  maxColdRunners?: number;
  reconcileIntervalMs: number;
  /**
   * Autoscaling: the warm target follows the arrival rate and the measured refill time (at least
   * rate x refill + burst margin), within [min, max]; without it the policy's warmTarget holds.
   */
  autoscale?: SizingConfig;
  /** Called after each reconcile pass with its plan and the warm target it used (for logs and metrics). */
  onReconcile?: (plan: ReconcilePlan, warmTarget: number) => void;
  /** Leader election: while this says false, reconcile passes change nothing (every replica still serves claims). */
  isLeader?: () => boolean;
}

/** What the pool did or saw, for logs, metrics and the controller's bookkeeping. */
export type PoolEvent =
  | { type: 'runner-ready'; runner: Runner; seconds: number }
  /** A new runner's prefetch is over (whatever became of each image): it is claimable now. */
  | ({ type: 'runner-prefetched'; runner: Runner } & PrefetchOutcome)
  /** A runner could not be made, or its agent never got ready; creation backs off for `retryInMs`. */
  | { type: 'runner-failed'; runnerId?: string; message: string; consecutiveFailures: number; retryInMs: number }
  | { type: 'runner-deleted'; runner: Runner; reason: DeleteReason }
  | { type: 'target-changed'; from: number; to: number; arrivalRate: number; refillSeconds: number }
  /** An activation refused a cold runner because `maxColdRunners` were being made already. */
  | { type: 'cold-fallback-refused'; coldRunners: number; maxColdRunners: number }
  | { type: 'error'; message: string };

export interface PoolClaim {
  runner: Runner;
  tier: 'warm' | 'cold';
  queueMs: number;
  claimMs: number;
  conflicts: number;
}

export interface PoolStatus {
  pool: string;
  warmTarget: number;
  maxSize: number;
  runners: Record<string, number>;
  available: number;
  queued: number;
  warmTargetReachedOnce: boolean;
  arrivalRate: number;
  refillSeconds: number;
  consecutiveCreationFailures: number;
  /** How long creation is still held back after failures (0 when it is not). */
  creationBackoffMs: number;
  /** Cold-fallback runners being made now, and the cap on them. */
  coldRunners: number;
  maxColdRunners: number;
  prefetch: PrefetchStatus;
}

export class Pool {
  private readonly view = new Map<string, Runner>();
  /** Runners made by claimCold for one activation and not claimed yet. */
  private readonly coldRunners = new Set<string>();
  /** Cold fallbacks under way (counted before their runner exists, so concurrent claims see the cap). */
  private coldInFlight = 0;
  /** Cold runners whose creation has not returned their id yet; reconcile passes wait for them. */
  private coldCreating = 0;
  private reconcileAfterCold = false;
  private readonly queue: WaitQueue;
  private readonly history: CreationHistory = { consecutiveFailures: 0 };
  private unwatch: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> | undefined;
  private reachedTarget = false;
  private arrivals = 0;
  private rate: RateEstimate = { rate: 0, atMs: Date.now() };
  /** Seconds from creating a runner to it being claimable (agent ready, prefetch over), averaged; 1 s until measured. */
  private refillSeconds = 1;
  private prefetches: PrefetchRuns | undefined;
  private target: number;
  private readonly listeners = new Set<(event: PoolEvent) => void>();
  /** Set by stop(): no pass (and so no runner creation) starts after it. */
  private stopped = false;

  constructor(private readonly options: PoolOptions) {
    this.queue = new WaitQueue(options.maxQueue);
    this.target = options.policy.warmTarget;
  }

  get warmTarget(): number {
    return this.target;
  }

  /**
   * Pulls `prefetch.images` into every new warm runner before it is claimable (call before
   * start()). Cold-fallback runners, made for one activation, are not prefetched.
   */
  usePrefetch(prefetch: PoolPrefetch): void {
    this.prefetches = new PrefetchRuns(prefetch, {
      mark: (runner) => this.update(runner.id, { annotations: { [PREFETCHED_ANNOTATION]: new Date().toISOString() } }),
      done: (runner, outcome) => {
        this.measureRefill(runner);
        this.emit({ type: 'runner-prefetched', runner, ...outcome });
        this.queue.wake();
      },
      failed: (runner, error) => this.emit({ type: 'error', message: `recording the prefetch into runner ${runner.id} failed: ${(error as Error).message}` }),
    });
  }

  /** Calls `listener` for every PoolEvent until the returned function is called. */
  subscribe(listener: (event: PoolEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private emit(event: PoolEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure must not stop the pool.
      }
    }
  }

  /** Counts a creation that failed (at once, or when the runner never got ready): the next ones back off. */
  private creationFailed(message: string, runnerId?: string): void {
    this.history.consecutiveFailures += 1;
    this.history.lastFailureAtMs = Date.now();
    const retryInMs = backoffDelayMs(this.history.consecutiveFailures, this.options.policy);
    this.emit({ type: 'runner-failed', ...(runnerId !== undefined ? { runnerId } : {}), message, consecutiveFailures: this.history.consecutiveFailures, retryInMs });
  }

  /** Recovers the pool from the substrate, then keeps it reconciled. */
  async start(): Promise<void> {
    this.unwatch = this.options.substrate.watch((event) => {
      if (event.runner.pool !== this.options.template.pool) return;
      const before = this.view.get(event.runner.id);
      if (event.type === 'deleted') this.view.delete(event.runner.id);
      else this.view.set(event.runner.id, event.runner);
      // Creation succeeds when the runner's agent is ready, not when the substrate accepted it:
      // a runner that dies before that counts as a failed creation, so a broken runner command
      // backs off instead of looping.
      if (event.type === 'modified' && before?.phase === 'pending' && event.runner.phase === 'running') {
        const seconds = (Date.now() - Date.parse(event.runner.createdAt)) / 1000;
        this.history.consecutiveFailures = 0;
        this.emit({ type: 'runner-ready', runner: event.runner, seconds });
        // Refilled once claimable: now, or when its prefetch is over.
        if (!this.awaitingPrefetch(event.runner)) this.measureRefill(event.runner);
      }
      if (event.type === 'modified' && before?.phase === 'pending' && event.runner.phase === 'failed') {
        this.creationFailed(`runner ${event.runner.id} failed before its agent was ready`, event.runner.id);
      }
      if (this.claimableWarm([event.runner]).length > 0) this.queue.wake();
      this.startPrefetches();
      void this.reconcile();
    });
    for (const runner of await this.options.substrate.listRunners(this.options.template.pool)) this.view.set(runner.id, runner);
    await this.reconcile();
    this.timer = setInterval(() => void this.reconcile(), this.options.reconcileIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    if (this.timer) clearInterval(this.timer);
    this.queue.drain();
    await Promise.all([this.reconciling, this.prefetches?.stop()]);
  }

  runners(): Runner[] {
    return [...this.view.values()];
  }

  /** The runners with their phase as the pool sees it (`prefetching` included), for `GET /pool`. */
  runnerList(): PoolRunner[] {
    return this.runners().map((runner) => ({ ...runner, phase: this.phaseOf(runner) }));
  }

  private phaseOf(runner: Runner): PoolRunnerPhase {
    return this.awaitingPrefetch(runner) ? 'prefetching' : runner.phase;
  }

  /** A warm runner of this pool (not a cold one) still to be prefetched into. */
  private awaitingPrefetch(runner: Runner): boolean {
    return this.prefetches !== undefined && !this.coldRunners.has(runner.id) && awaitingPrefetch(runner);
  }

  /** Runners a claim may take now: ready, and prefetched into when the pool prefetches. */
  private claimableWarm(runners: readonly Runner[]): Runner[] {
    return claimable(runners).filter((runner) => !this.awaitingPrefetch(runner));
  }

  /** Folds a runner's time from creation to claimable into the refill estimate (autoscaling input). */
  private measureRefill(runner: Runner): void {
    const seconds = (Date.now() - Date.parse(runner.createdAt)) / 1000;
    this.refillSeconds = this.refillSeconds * 0.7 + seconds * 0.3;
  }

  /** Starts the prefetch of every runner awaiting one (the leader's job: the others see its annotation). */
  private startPrefetches(): void {
    if (this.stopped || this.options.isLeader?.() === false) return;
    this.prefetches?.start(this.runners().filter((runner) => this.awaitingPrefetch(runner)));
  }

  /** One reconcile pass at a time; a request during a pass is served by the next one. */
  reconcile(): Promise<void> {
    if (this.stopped) return this.reconciling ?? Promise.resolve();
    this.reconciling ??= this.reconcileOnce().finally(() => {
      this.reconciling = undefined;
    });
    return this.reconciling;
  }

  private async reconcileOnce(): Promise<void> {
    const { substrate, template, autoscale } = this.options;
    // A cold runner being created is in the view (the substrate told of it) before its id is known
    // to be cold: a plan now could trim it as surplus. The pass runs once its creation returned.
    if (this.coldCreating > 0) {
      this.reconcileAfterCold = true;
      return;
    }
    if (autoscale) {
      this.rate = updateRate(this.rate, this.arrivals, Date.now(), autoscale.halfLifeSeconds);
      this.arrivals = 0;
      const to = warmTarget(this.rate.rate, this.refillSeconds, autoscale);
      if (to !== this.target) this.emit({ type: 'target-changed', from: this.target, to, arrivalRate: this.rate.rate, refillSeconds: this.refillSeconds });
      this.target = to;
    }
    const policy = { ...this.options.policy, warmTarget: this.target, prefetch: this.prefetches !== undefined };
    const plan = this.options.isLeader?.() === false ? { delete: [], create: 0 } : planReconcile(this.runners().filter((runner) => !this.coldRunners.has(runner.id)), policy, this.history, Date.now(), this.queue.length);
    await Promise.all(
      plan.delete.map(async ({ id, reason }) => {
        const runner = this.view.get(id);
        try {
          await substrate.deleteRunner(id);
        } catch (error) {
          // Left in the view: the next pass tries again.
          this.emit({ type: 'error', message: `deleting runner ${id} (${reason}) failed: ${(error as Error).message}` });
          return;
        }
        this.view.delete(id);
        if (runner) this.emit({ type: 'runner-deleted', runner, reason });
      }),
    );
    await Promise.all(
      Array.from({ length: plan.create }, async () => {
        try {
          const runner = await substrate.createRunner(template);
          // The watch may have told newer news of it already (it failed at once).
          if (!this.view.has(runner.id)) this.view.set(runner.id, runner);
        } catch (error) {
          this.creationFailed(`creating a runner failed: ${(error as Error).message}`);
        }
      }),
    );
    if (this.claimableWarm(this.runners()).length >= this.target) this.reachedTarget = true;
    this.startPrefetches();
    this.options.onReconcile?.(plan, this.target);
  }

  /**
   * Claims a runner: a warm one now, else after a bounded wait, else a cold one or POOL_EXHAUSTED.
   * `signal` gives up on the claim (rejects with its reason); a runner made for it is destroyed.
   */
  async claim(request: Omit<ClaimRequest, 'nowMs'>, signal?: AbortSignal): Promise<PoolClaim> {
    this.arrivals += 1;
    const start = performance.now();
    const deadline = start + this.options.maxWaitMs;
    for (;;) {
      signal?.throwIfAborted();
      const attempt = performance.now();
      // Shuffled, so concurrent claims (and other controller replicas) spread over the candidates.
      const candidates = shuffled(this.claimableWarm(this.runners().filter((runner) => !this.coldRunners.has(runner.id))));
      const claimed = await claimRunner(this.options.substrate, candidates, { ...request, nowMs: Date.now() });
      if (claimed) {
        this.view.set(claimed.runner.id, claimed.runner);
        void this.reconcile();
        return { runner: claimed.runner, tier: 'warm', queueMs: attempt - start, claimMs: performance.now() - attempt, conflicts: claimed.conflicts };
      }
      const left = deadline - performance.now();
      const waiting = left > 0 ? this.queue.wait(left, signal) : Promise.resolve<WaitOutcome>('timeout');
      // A queued activation is demand: the next pass makes a runner for it.
      void this.reconcile();
      const outcome = await waiting;
      signal?.throwIfAborted();
      if (outcome === 'ready') continue;
      const fallback = decideColdFallback({ enabled: this.options.coldFallback, coldRunners: this.coldInFlight, maxColdRunners: this.maxColdRunners, refillSeconds: this.refillSeconds });
      if (fallback.create) return this.claimCold(request, start, signal);
      const { pool } = this.options.template;
      if (fallback.reason === 'at-capacity') {
        this.emit({ type: 'cold-fallback-refused', coldRunners: this.coldInFlight, maxColdRunners: this.maxColdRunners });
        throw new McpWarmError('POOL_EXHAUSTED', `no warm runner in pool ${pool} within ${this.options.maxWaitMs} ms, and ${this.coldInFlight} cold runner(s) are being made already (at most ${this.maxColdRunners})`, {
          hint: 'Retry after the Retry-After delay, or raise --max-cold-runners or the pool size.',
          details: { retryAfterSeconds: fallback.retryAfterSeconds, queued: this.queue.length, coldRunners: this.coldInFlight, maxColdRunners: this.maxColdRunners },
        });
      }
      throw new McpWarmError('POOL_EXHAUSTED', `no warm runner in pool ${pool} within ${this.options.maxWaitMs} ms${outcome === 'full' ? ' (queue full)' : ''}`, {
        details: { retryAfterSeconds: fallback.retryAfterSeconds, queued: this.queue.length },
      });
    }
  }

  /** Creates a runner kept apart from the pool: until it is claimed, the reconcile loop must not trim it as surplus nor a warm claim take it. */
  private async createCold(): Promise<Runner> {
    this.coldCreating += 1;
    try {
      const created = await this.options.substrate.createRunner(this.options.template);
      this.coldRunners.add(created.id);
      return created;
    } finally {
      this.coldCreating -= 1;
      if (this.coldCreating === 0 && this.reconcileAfterCold) {
        this.reconcileAfterCold = false;
        void this.reconcile();
      }
    }
  }

  private get maxColdRunners(): number {
    return this.options.maxColdRunners ?? DEFAULT_MAX_COLD_RUNNERS;
  }

  /** A fresh runner made for this activation alone, claimed as soon as it is ready; destroyed if it never is (or `signal` gives up). */
  private async claimCold(request: Omit<ClaimRequest, 'nowMs'>, start: number, signal: AbortSignal | undefined): Promise<PoolClaim> {
    const { substrate, template } = this.options;
    if (this.stopped) throw new McpWarmError('POOL_EXHAUSTED', `pool ${template.pool} is stopping`, { details: { retryAfterSeconds: 1 } });
    this.coldInFlight += 1;
    try {
      const created = await this.createCold();
      try {
        const ready = await untilClaimable(substrate, created.id, this.view.get(created.id), COLD_READY_TIMEOUT_MS, signal).catch(async (error: unknown) => {
          await this.discard(created.id, signal?.aborted ? 'cancelled' : 'failed').catch(() => undefined);
          throw error;
        });
        const attempt = performance.now();
        const claimed = await claimRunner(substrate, [ready], { ...request, nowMs: Date.now() });
        if (!claimed) throw new McpWarmError('POOL_EXHAUSTED', `the cold runner ${created.id} was taken by another claim`);
        this.view.set(claimed.runner.id, claimed.runner);
        return { runner: claimed.runner, tier: 'cold', queueMs: attempt - start, claimMs: performance.now() - attempt, conflicts: claimed.conflicts };
      } finally {
        this.coldRunners.delete(created.id);
      }
    } finally {
      this.coldInFlight -= 1;
    }
  }

  /** Ends a claim: the runner is drained and destroyed (single use), and the pool refilled. */
  async release(runnerId: string): Promise<void> {
    await this.update(runnerId, { state: 'draining' });
    await this.reconcile();
  }

  /**
   * Destroys a runner now, without waiting for a reconcile pass (none may come: the controller is
   * stopping): for a runner claimed or made for an activation that was given up half-made.
   */
  async discard(runnerId: string, reason: DeleteReason): Promise<void> {
    const runner = this.view.get(runnerId);
    await this.options.substrate.deleteRunner(runnerId);
    this.view.delete(runnerId);
    if (runner) this.emit({ type: 'runner-deleted', runner, reason });
  }

  /** Undoes a claim on which nothing ran: the runner is warm again, for the next claim. */
  async giveBack(runnerId: string): Promise<void> {
    await this.update(runnerId, { state: 'warm', annotations: Object.fromEntries(CLAIM_ANNOTATIONS.map((key) => [key, null])) });
  }

  /**
   * Applies `patch` to a runner of this pool, re-reading it when another change came first;
   * resolves with the runner as updated, or undefined when it no longer exists.
   */
  async update(runnerId: string, patch: RunnerPatch): Promise<Runner | undefined> {
    const read = async () => (await this.options.substrate.listRunners(this.options.template.pool)).find((r) => r.id === runnerId);
    let current = this.view.get(runnerId) ?? (await read());
    for (let attempt = 0; attempt < 5; attempt += 1) {
      if (!current) return undefined;
      try {
        const updated = await this.options.substrate.updateRunner(runnerId, current.version, patch);
        this.view.set(runnerId, updated);
        return updated;
      } catch (error) {
        if (error instanceof McpWarmError && error.code === 'RUNNER_NOT_FOUND') return undefined;
        if (!(error instanceof McpWarmError && error.code === 'RUNNER_CONFLICT')) throw error;
        current = await read();
      }
    }
    throw new McpWarmError('RUNNER_CONFLICT', `runner ${runnerId} kept changing while it was being updated`, { details: { id: runnerId } });
  }

  status(): PoolStatus {
    const runners: Record<string, number> = {};
    for (const runner of this.view.values()) {
      const key = `${runner.state}/${this.phaseOf(runner)}`;
      runners[key] = (runners[key] ?? 0) + 1;
    }
    return {
      pool: this.options.template.pool,
      warmTarget: this.target,
      maxSize: this.options.policy.maxSize,
      runners,
      available: this.claimableWarm(this.runners()).length,
      queued: this.queue.length,
      warmTargetReachedOnce: this.reachedTarget,
      arrivalRate: this.rate.rate,
      refillSeconds: this.refillSeconds,
      consecutiveCreationFailures: this.history.consecutiveFailures,
      creationBackoffMs:
        this.history.lastFailureAtMs === undefined ? 0 : Math.max(0, this.history.lastFailureAtMs + backoffDelayMs(this.history.consecutiveFailures, this.options.policy) - Date.now()),
      coldRunners: this.coldInFlight,
      maxColdRunners: this.maxColdRunners,
      prefetch: this.prefetches?.status() ?? { images: [], prefetching: 0, medianSeconds: null, measured: 0 },
    };
  }
}

/**
 * Activations on the pool: claimed from it (or served from the hot tier), carried out by the
 * claimed runner's agent, and ended once, by whoever comes first (DELETE, the lease, a server
 * that exited, a runner that went away). Ending one destroys its runner (single use).
 *
 * Faults: a runner lost during an activation (its agent unreachable, gone, or silent past the
 * activate timeout) is replaced and the activation tried once more on another runner; a request
 * the agent refuses before anything ran gives the runner back unused; live activations are
 * checked so none outlives its server or runner; and a restarted controller recovers activations
 * from the annotations on their runners.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { McpWarmError } from '../errors.js';
import type { ActivationRequest } from '../agent/activation-request.js';
import { classifyActivationFailure, instanceVerdict, type InstanceVerdict } from './activation-failures.js';
import { ActivationMonitor, type Ending } from './activation-monitor.js';
import { recoveredActivation, recoveryAction, type Activation } from './activation-record.js';
import { ActivationRegistry, type EndReason } from './activation-registry.js';
import { activateTimeoutMs, type RequestedTier } from './activation-request.js';
import { ACTIVATION_ANNOTATION, IMAGE_ANNOTATION, SERVER_ANNOTATION, TIER_ANNOTATION } from './claim.js';
import type { ControllerMetrics } from './controller-metrics.js';
import { HotTier, type HotImageConfig } from './hot-tier.js';
import type { RelayOutcome } from './mcp-relay.js';
import type { Pool } from './pool.js';
import { ACTIVATION_STATE_ANNOTATION, LEASE_EXPIRES_ANNOTATION } from './reconcile-plan.js';
import type { RunnerClient } from './runner-client.js';
import { ServerLifecycle, type ServerDefinition } from './servers.js';

/** Runners an activation is tried on: a second when the first is lost during it. */
const MAX_ATTEMPTS = 2;

export interface ActivationServiceOptions {
  pool: Pool;
  runners: RunnerClient;
  metrics: ControllerMetrics;
  leaseMs: number;
  /** Time a runner's agent has to answer an activation beyond the request's readiness timeout; past it the runner counts as lost. */
  activateGraceMs: number;
  hot: HotImageConfig[];
  servers: ServerDefinition[];
  /** How often live activations are checked. */
  checkIntervalMs: number;
  log(line: string): void;
}

/** Who an activation is made for: a client, the hot tier's shelf, or a named server. */
type Purpose = { shelved?: true; server?: string };

export class ActivationService {
  readonly registry = new ActivationRegistry<Activation>();
  readonly hot: HotTier<Activation>;
  readonly servers: ServerLifecycle<Activation>;
  private readonly monitor: ActivationMonitor<Activation>;
  private readonly detach: () => void;
  private refillTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ActivationServiceOptions) {
    const { pool, log } = options;
    this.hot = new HotTier<Activation>(
      options.hot,
      (image, signal) => this.activateOnPool({ image }, performance.now(), { shelved: true }, signal),
      (image, error) => log(`hot instance of ${image} failed: ${(error as Error).message}`),
    );
    this.servers = new ServerLifecycle<Activation>(options.servers, {
      start: async (server) => {
        const activation = await this.activateOnPool({ image: server.image }, performance.now(), { server: server.name });
        this.registry.add(activation);
        return activation;
      },
      stop: (activation, force) => this.end(activation, 'deleted', !force),
    });
    this.monitor = new ActivationMonitor<Activation>({
      intervalMs: options.checkIntervalMs,
      list: () => [...this.registry.list(), ...this.hot.shelved()],
      check: (activation) => this.check(activation),
      ended: (activation, why) => this.ended(activation, why),
      onError: (error) => log(`checking activations failed: ${(error as Error).message}`),
    });
    // A runner the reconcile loop deleted (lease lapsed, crashed) takes its activation with it.
    this.detach = pool.subscribe((event) => {
      if (event.type !== 'runner-deleted') return;
      const activation = this.registry.onRunner(event.runner.id) ?? this.hot.shelved().find((a) => a.runner === event.runner.id);
      if (activation) this.background(this.ended(activation, event.reason === 'lease-expired' ? 'lease-expired' : 'runner-lost'));
    });
  }

  /** Recovers what an earlier controller left on the runners, then keeps activations checked and the hot tier filled. */
  async start(): Promise<void> {
    await this.recover();
    this.monitor.start();
    this.hot.refill();
    this.refillTimer = setInterval(() => this.hot.refill(), 1000);
    this.refillTimer.unref();
  }

  /**
   * Stops checking and refilling; activations and shelved instances stay on their runners for the
   * next controller. Hot instances still being made are cancelled and their runners destroyed.
   */
  async stop(): Promise<void> {
    clearInterval(this.refillTimer);
    this.detach();
    await this.hot.stop();
    await this.monitor.stop();
  }

  /** One activation for a client: from the hot tier when allowed and available, else from the pool. */
  async activate(request: ActivationRequest, tier: RequestedTier, start: number): Promise<Activation> {
    // Only a plain request (the image alone) can be served by an instance made ahead of it.
    const hot = tier === 'hot' && Object.keys(request).length === 1 ? await this.serveHot(request.image, start) : undefined;
    const activation = hot ?? (await this.activateOnPool(request, start, {}));
    this.registry.add(activation);
    return activation;
  }

  /**
   * The live activation with this id: this replica's, or one another replica made, found by the
   * annotations of its runner in the pool's view of the substrate and taken over, so that any
   * replica behind a Service serves an activation's MCP endpoint, GET and DELETE. Otherwise
   * INSTANCE_NOT_FOUND (with why it ended, when it ended here).
   */
  async find(activationId: string): Promise<Activation> {
    if (!this.registry.has(activationId) && !this.registry.hasEnded(activationId)) {
      const runner = this.options.pool.runners().find((r) => r.annotations[ACTIVATION_ANNOTATION] === activationId && recoveryAction(r) === 'recover');
      const check = runner ? await this.options.runners.instance(runner, activationId) : undefined;
      if (runner && check?.info?.state === 'running' && !this.registry.has(activationId) && !this.registry.hasEnded(activationId)) {
        this.registry.add(recoveredActivation(runner, check.info));
      }
    }
    return this.registry.get(activationId);
  }

  /** Ends an activation once: its instance stopped (when `graceful`), its runner destroyed and replaced. */
  async end(activation: Activation, reason: EndReason, graceful = reason === 'deleted'): Promise<void> {
    if (!this.registry.end(activation.activationId, reason)) return;
    this.options.metrics.ended.inc({ reason });
    this.servers.forget(activation);
    const runner = this.runner(activation.runner);
    if (runner && graceful) await this.options.runners.stopInstance(runner, activation.activationId);
    await this.options.pool.release(activation.runner);
  }

  /** After a relayed request the runner did not answer in full (or answered 404): is the activation still there? */
  async relayFailed(activation: Activation, outcome: RelayOutcome): Promise<void> {
    if (outcome === 'relayed' || outcome === 'client-gone') return;
    const verdict = await this.monitor.checkNow(activation);
    if (outcome !== 'unreachable') return;
    const lost = verdict === 'runner-lost';
    throw new McpWarmError(
      'SERVICE_UNREACHABLE',
      lost ? `activation ${activation.activationId} has ended: its runner ${activation.runner} went away` : `the runner ${activation.runner} of activation ${activation.activationId} did not answer`,
      {
        hint: lost ? 'Start a new activation (POST /activations).' : 'Retry; the activation ends if its runner is lost.',
        details: { activationId: activation.activationId, runner: activation.runner, ...(lost ? { ended: 'runner-lost' } : {}) },
      },
    );
  }

  /** Ends activations whose runner the pool no longer holds as claimed and alive. */
  sweep(): void {
    const runners = new Map(this.options.pool.runners().map((r) => [r.id, r]));
    for (const activation of this.registry.list()) {
      const runner = runners.get(activation.runner);
      if (!runner || runner.phase === 'gone' || runner.phase === 'failed') this.background(this.end(activation, 'runner-lost'));
    }
  }

  private background(work: Promise<void>): void {
    work.catch((error: unknown) => this.options.log(`ending an activation failed: ${(error as Error).message}`));
  }

  private runner(id: string) {
    return this.options.pool.runners().find((r) => r.id === id);
  }

  private async check(activation: Activation): Promise<InstanceVerdict> {
    const runner = this.runner(activation.runner);
    if (!runner || runner.phase === 'gone' || runner.phase === 'failed') return 'runner-lost';
    return instanceVerdict(await this.options.runners.instance(runner, activation.activationId));
  }

  /** An activation (or a shelved instance) found over: ended, its runner released. */
  private async ended(activation: Activation, why: Ending | 'lease-expired'): Promise<void> {
    if (this.registry.has(activation.activationId)) return this.end(activation, why, false);
    if (this.hot.remove(activation)) await this.options.pool.release(activation.runner);
  }

  private async serveHot(image: string, start: number): Promise<Activation | undefined> {
    for (let ready = this.hot.take(image); ready; ready = this.hot.take(image)) {
      const runner = this.runner(ready.runner);
      // A shelved instance whose runner went away meanwhile (lease expired, crashed) is skipped.
      if (!runner || runner.state !== 'claimed' || runner.phase !== 'running') continue;
      // Recorded before answering, so a restarted controller recovers it as a client's; the lease starts now.
      const served = await this.options.pool.update(runner.id, {
        annotations: {
          [ACTIVATION_STATE_ANNOTATION]: 'active',
          [TIER_ANNOTATION]: 'hot',
          [LEASE_EXPIRES_ANNOTATION]: new Date(Date.now() + this.options.leaseMs).toISOString(),
        },
      });
      if (!served) continue;
      this.options.metrics.claims.inc({ tier: 'hot', result: 'ok' });
      const elapsed = performance.now() - start;
      return { ...ready, tier: 'hot', phases: { ...ready.phases, queueMs: 0, claimMs: elapsed, totalMs: elapsed }, createdAt: new Date().toISOString() };
    }
    return undefined;
  }

  /**
   * Claims a runner and has its agent activate the image (tier warm or cold); a lost runner is
   * replaced and another tried. `signal` gives up: the runner claimed for it is destroyed.
   */
  private async activateOnPool(request: ActivationRequest, start: number, purpose: Purpose, signal?: AbortSignal): Promise<Activation> {
    const { pool, runners, metrics } = this.options;
    const activationId = `a-${randomBytes(6).toString('hex')}`;
    const spent = { queueMs: 0, claimMs: 0, failedAttemptMs: 0 };
    for (let attempt = 1; ; attempt += 1) {
      const claim = await pool.claim({ activationId, image: request.image, leaseMs: this.options.leaseMs }, signal).catch((error: unknown) => {
        if (!signal?.aborted) metrics.claims.inc({ tier: 'none', result: 'exhausted' });
        throw error;
      });
      spent.queueMs += claim.queueMs;
      spent.claimMs += claim.claimMs;
      metrics.queueWait.observe(claim.queueMs / 1000);
      if (claim.tier === 'cold') metrics.coldFallbacks.inc();
      const callStart = performance.now();
      const result = await runners.activate(claim.runner, request, activationId, activateTimeoutMs(request, this.options.activateGraceMs), signal);
      if (signal?.aborted) {
        // Half made (or made for nobody now): its runner is single use and no reconcile pass may come to delete it.
        await pool.discard(claim.runner.id, 'cancelled');
        signal.throwIfAborted();
      }
      // Recorded before answering, so a restarted controller knows the activation was made and for whom.
      const recorded = result.ok
        ? await pool
            .update(claim.runner.id, {
              annotations: {
                [ACTIVATION_STATE_ANNOTATION]: purpose.shelved ? 'shelved' : 'active',
                [TIER_ANNOTATION]: claim.tier,
                ...(purpose.server !== undefined ? { [SERVER_ANNOTATION]: purpose.server } : {}),
              },
            })
            .catch(() => undefined)
        : undefined;
      if (result.ok && recorded) {
        metrics.claims.inc({ tier: claim.tier, result: 'ok' });
        const instance = result.value;
        return {
          activationId,
          runner: claim.runner.id,
          endpoint: `/activations/${activationId}/mcp`,
          runnerEndpoint: new URL(instance.endpoint, claim.runner.endpoint).href,
          tier: claim.tier,
          image: instance.image,
          phases: { ...spent, ...instance.phases, totalMs: performance.now() - start },
          cache: instance.cache,
          attempts: attempt,
          createdAt: new Date().toISOString(),
        };
      }
      const error = result.ok ? new McpWarmError('SUBSTRATE_FAILED', `runner ${claim.runner.id} went away as the activation was made`) : result.error;
      const failure = result.ok
        ? 'runner-lost'
        : classifyActivationFailure({ answered: result.answered, code: error.code, runnerPhase: this.runner(claim.runner.id)?.phase ?? 'absent' });
      metrics.claims.inc({ tier: claim.tier, result: failure });
      if (failure === 'refused') await pool.giveBack(claim.runner.id);
      else await pool.release(claim.runner.id);
      if (failure !== 'runner-lost' || attempt >= MAX_ATTEMPTS) {
        throw new McpWarmError(error.code, error.message, { hint: error.hint, details: { ...error.details, runner: claim.runner.id, attempts: attempt } });
      }
      spent.failedAttemptMs += performance.now() - callStart;
      metrics.retries.inc();
      this.options.log(`activation ${activationId}: runner ${claim.runner.id} was lost (${error.message}); trying another runner`);
    }
  }

  /** Takes over the activations and shelved instances an earlier controller left on claimed runners. */
  private async recover(): Promise<void> {
    const { pool, runners, log } = this.options;
    let recovered = 0;
    for (const runner of pool.runners()) {
      const action = recoveryAction(runner);
      if (action === 'ignore') continue;
      const check = action === 'release' ? undefined : await runners.instance(runner, runner.annotations[ACTIVATION_ANNOTATION]!);
      if (check?.info?.state === 'running') {
        const activation = recoveredActivation(runner, check.info);
        const server = runner.annotations[SERVER_ANNOTATION];
        if (action === 'recover') {
          this.registry.add(activation);
          if (server !== undefined) this.servers.adopt(server, activation);
          recovered += 1;
          continue;
        }
        if (this.hot.adopt(runner.annotations[IMAGE_ANNOTATION]!, activation)) continue;
      }
      await pool.release(runner.id);
    }
    if (recovered > 0) log(`recovered ${recovered} activation(s) from their runners`);
  }
}

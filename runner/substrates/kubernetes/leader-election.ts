/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: a candidate takes the
 * lease when it is free or its holder has not renewed it for `leaseDuration` (measured on this
 * replica's clock from when it last saw the lease change, so clocks need not agree), renews it every
 * `retryPeriod` while leading, and steps down if it could not renew within `renewDeadline` (shorter
 * than the lease, so it stops before anyone else may start). Every write names the resourceVersion
 * it read, so two candidates never both win. Stopping releases the lease so a successor need not
 * wait it out. Only the leader reconciles the pool; every replica serves claims.
 */
import { CoordinationV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type V1Lease } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpWarmError } from '../../errors.js';
import { API_CALLS, type ApiCall } from './api-calls.js';
import { loadKubeTarget, type KubeTarget } from './kube-config.js';
import { apiStatus, kubeError } from './kube-errors.js';

export interface LeaderElectionOptions {
  kubeconfig?: string;
  namespace?: string;
  /** The Lease's name: one per pool controller deployment. */
  leaseName: string;
  /** This replica, unique among candidates (the pod name plus something random). */
  identity: string;
  /** How long a lease holds without renewal (client-go default 15 s). */
  leaseDurationMs?: number;
  /** How long a leader keeps trying to renew before it steps down (default 10 s). */
  renewDeadlineMs?: number;
  /** Time between attempts to take or renew the lease (default 2 s). */
  retryPeriodMs?: number;
  /** Told when this replica starts or stops leading. */
  onChange?: (leading: boolean) => void;
  /** Told about failed attempts (the elector keeps trying). */
  onError?: (error: McpWarmError) => void;
}

/** Kubernetes MicroTime: RFC 3339 with six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  private readonly target: KubeTarget;
  private readonly leases: CoordinationV1Api;
  private readonly core: CoreV1Api;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly stopping = new AbortController();
  private running: Promise<void> | undefined;
  private leading = false;
  /** The lease as last read, and when (this replica's clock) it was seen to change. */
  private observed: { version: string | undefined; atMs: number } = { version: undefined, atMs: 0 };
  private lastRenewMs = 0;

  constructor(private readonly options: LeaderElectionOptions) {
    this.target = loadKubeTarget(options);
    this.leases = this.target.config.makeApiClient(CoordinationV1Api);
    this.core = this.target.config.makeApiClient(CoreV1Api);
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (!(this.retryPeriodMs < this.renewDeadlineMs && this.renewDeadlineMs < this.leaseDurationMs)) {
      throw new McpWarmError('USAGE_INVALID', 'leader election needs retryPeriod < renewDeadline < leaseDuration');
    }
  }

  get identity(): string {
    return this.options.identity;
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.running ??= this.run();
  }

  /** Stops campaigning; a leader releases the lease unless `release` is false (a crash, in tests). */
  async stop(release = true): Promise<void> {
    this.stopping.abort();
    await this.running;
    if (this.leading && release) await this.release().catch(() => undefined);
    this.setLeading(false);
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      const won = await this.tryAcquireOrRenew().catch((error: unknown) => {
        this.options.onError?.(error instanceof McpWarmError ? error : kubeError(API_CALLS.getLease, this.where(), error));
        return false;
      });
      if (signal.aborted) return;
      if (won) this.lastRenewMs = Date.now();
      // A leader that could not renew in time steps down before its lease can lapse elsewhere.
      this.setLeading(won || (this.leading && Date.now() - this.lastRenewMs < this.renewDeadlineMs));
      // Jittered while following, so candidates do not collide on every attempt.
      const wait = this.leading ? this.retryPeriodMs : this.retryPeriodMs * (1 + Math.random() * 0.2);
      await sleep(wait, undefined, { signal, ref: false }).catch(() => undefined);
    }
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.options.onChange?.(leading);
    if (leading) void this.recordEvent();
  }

  private where(): { server: string; namespace: string } {
    return { server: this.target.server, namespace: this.target.namespace };
  }

  private async call<T>(call: ApiCall, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (apiStatus(error) === 409 || apiStatus(error) === 404) throw error;
      throw kubeError(call, this.where(), error);
    }
  }

  /** One attempt; true when this replica holds the lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const { leaseName: name, identity } = this.options;
    const namespace = this.target.namespace;
    const now = Date.now();
    const durationSeconds = Math.ceil(this.leaseDurationMs / 1000);
    let lease: V1Lease;
    try {
      lease = await this.call(API_CALLS.getLease, () => this.leases.readNamespacedLease({ name, namespace }));
    } catch (error) {
      if (apiStatus(error) !== 404) throw error;
      const body: V1Lease = {
        metadata: { name, namespace },
        spec: { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: microTime(now) as never, renewTime: microTime(now) as never, leaseTransitions: 0 },
      };
      return this.call(API_CALLS.createLease, () => this.leases.createNamespacedLease({ namespace, body })).then(
        () => true,
        (failure: unknown) => (apiStatus(failure) === 409 ? false : Promise.reject(failure)),
      );
    }
    const spec = lease.spec ?? {};
    if (lease.metadata?.resourceVersion !== this.observed.version) this.observed = { version: lease.metadata?.resourceVersion, atMs: now };
    const holder = spec.holderIdentity ?? '';
    const heldFor = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (holder !== '' && holder !== identity && this.observed.atMs + heldFor > now) return false;
    const taking = holder !== identity;
    const patch = {
      metadata: { resourceVersion: lease.metadata?.resourceVersion },
      spec: {
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: microTime(now),
        ...(taking ? { acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
      },
    };
    try {
      const updated = await this.call(API_CALLS.patchLease, () =>
        this.leases.patchNamespacedLease({ name, namespace, body: patch }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
      );
      this.observed = { version: updated.metadata?.resourceVersion, atMs: now };
      return true;
    } catch (error) {
      if (apiStatus(error) === 409 || apiStatus(error) === 404) return false;
      throw error;
    }
  }

  /** Gives the lease up (no holder, a one-second duration), so the next candidate takes it at once. */
  private async release(): Promise<void> {
    const { leaseName: name } = this.options;
    const namespace = this.target.namespace;
    const lease = await this.leases.readNamespacedLease({ name, namespace });
    if (lease.spec?.holderIdentity !== this.options.identity) return;
    const patch = { metadata: { resourceVersion: lease.metadata?.resourceVersion }, spec: { holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime(Date.now()) } };
    await this.leases.patchNamespacedLease({ name, namespace, body: patch }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  }

  /** A `LeaderElection` event on the Lease, as client-go records one (best effort). */
  private async recordEvent(): Promise<void> {
    const namespace = this.target.namespace;
    const now = new Date();
    await this.core
      .createNamespacedEvent({
        namespace,
        body: {
          metadata: { generateName: `${this.options.leaseName}.`, namespace },
          involvedObject: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', name: this.options.leaseName, namespace },
          reason: 'LeaderElection',
          message: `${this.options.identity} became leader`,
          type: 'Normal',
          source: { component: 'mcpwarm-controller' },
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      })
      .catch(() => undefined);
  }
}

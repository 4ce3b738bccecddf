/**
 * The `kubernetes` substrate: each runner is a Pod the controller creates from a pod template (so
 * single-use runners are destroyed and refilled at the rate the controller sets), labelled
 * `app.kubernetes.io/component=mcp-runner` with its pool and state in labels and its activation
 * in annotations. The runner's version is the pod's resourceVersion, and a claim is a merge patch
 * that names it: of concurrent claims on one pod, from any number of controller replicas, the API
 * server lets exactly one through and answers 409 Conflict to the others.
 *
 * Reads come from an informer (list, then watch from the listed resourceVersion); writes go to the
 * API server, and their answers update the informer's cache at once.
 */
import { CoreV1Api, PatchStrategy, setHeaderOptions, Watch, type V1Pod } from '@kubernetes/client-node';
import { isMcpWarmError, McpWarmError } from '../../errors.js';
import type { Runner, RunnerEvent, RunnerPatch, RunnerTemplate, Substrate, SubstrateHealth } from '../types.js';
import { API_CALLS, type ApiCall } from './api-calls.js';
import { Informer, type InformerFailure } from './informer.js';
import { loadKubeTarget, type KubeTarget } from './kube-config.js';
import { LeaderElector, type LeaderElectionOptions } from './leader-election.js';
import { apiStatus, kubeError } from './kube-errors.js';
import { defaultPodTemplate, loadPodTemplate } from './pod-template.js';
import { runnerFromPod, runnerPatchBody, runnerPod, RUNNER_SELECTOR, withAgentImage, type TokenSecret } from './pod-runner.js';
import { isLaterVersion, type BackoffPolicy } from './watch-cache.js';

export interface KubernetesSubstrateOptions {
  /** Kubeconfig file; else KUBECONFIG, ~/.kube/config, or the pod's service account in a cluster. */
  kubeconfig?: string;
  /** Where runner pods live; else the kubeconfig context's namespace, else `default`. */
  namespace?: string;
  /** A YAML file with the runner Pod manifest; else the built-in default (pod-template.ts). */
  podTemplate?: string;
  /** The runner image, in place of the one the pod template names. */
  runnerImage?: string;
  /** The Secret the runner agents read their token from (default mcpwarm-runner-token, key runner-token). */
  tokenSecret?: TokenSecret;
  /** Reconnect backoff of the informer (default 200 ms doubling to 30 s). */
  watchBackoff?: BackoffPolicy;
  /** Each watch request asks the server to end it after this many seconds (then it is resumed); default 25. */
  watchTimeoutSeconds?: number;
}

export const DEFAULT_TOKEN_SECRET: TokenSecret = { name: 'mcpwarm-runner-token', key: 'runner-token' };

function conflict(id: string, expectedVersion: string): McpWarmError {
  return new McpWarmError('RUNNER_CONFLICT', `runner ${id} changed since version ${expectedVersion}`, { details: { id, expectedVersion } });
}

export class KubernetesSubstrate implements Substrate {
  readonly name = 'kubernetes';
  readonly namespace: string;
  private readonly target: KubeTarget;
  private readonly core: CoreV1Api;
  private readonly informer: Informer<V1Pod>;
  private readonly podTemplate: Promise<V1Pod>;
  private readonly tokenSecret: TokenSecret;
  /** Compare-and-set patches on their way, by `runner@version`. */
  private readonly patching = new Map<string, Promise<Runner>>();

  constructor(private readonly options: KubernetesSubstrateOptions = {}) {
    this.target = loadKubeTarget(options);
    this.namespace = this.target.namespace;
    this.core = this.target.config.makeApiClient(CoreV1Api);
    this.tokenSecret = options.tokenSecret ?? DEFAULT_TOKEN_SECRET;
    this.podTemplate = (options.podTemplate === undefined ? Promise.resolve(defaultPodTemplate()) : loadPodTemplate(options.podTemplate)).then((pod) =>
      options.runnerImage === undefined ? pod : withAgentImage(pod, options.runnerImage),
    );
    // Surfaced by ready(); not an unhandled rejection in the meantime.
    this.podTemplate.catch(() => undefined);
    const watcher = new Watch(this.target.config);
    const timeoutSeconds = options.watchTimeoutSeconds ?? 25;
    this.informer = new Informer<V1Pod>(
      {
        list: async () => {
          const list = await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: RUNNER_SELECTOR });
          return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
        },
        watch: async (resourceVersion, onEvent, onDone) => {
          const query = { labelSelector: RUNNER_SELECTOR, resourceVersion, allowWatchBookmarks: true, timeoutSeconds };
          const request = await watcher.watch(`/api/v1/namespaces/${encodeURIComponent(this.namespace)}/pods`, query, onEvent, onDone);
          return () => request.abort();
        },
      },
      { backoff: options.watchBackoff ?? { baseMs: 200, maxMs: 30_000 } },
    );
  }

  /** False while the API server does not answer the informer (its cache may be stale). */
  get connected(): boolean {
    return this.informer.connected;
  }

  /**
   * Not ok while the informer's list or watch fails (claims and refills would fail too), with the
   * coded error of its last attempt; ok again after the next list or watch the server accepts.
   */
  health(): SubstrateHealth {
    if (this.informer.connected) return { ok: true };
    const failure = this.informer.lastFailure;
    const since = new Date(this.informer.failingSince ?? Date.now()).toISOString();
    if (failure === undefined) {
      const message = `no list of runner pods from the Kubernetes API server at ${this.target.server} yet (namespace ${this.namespace})`;
      return { ok: false, reason: { code: 'KUBERNETES_UNREACHABLE', message, since } };
    }
    const error = this.failure(failure.step === 'list' ? API_CALLS.listPods : API_CALLS.watchPods, failure.error);
    return { ok: false, reason: { code: error.code, message: error.message, since } };
  }

  /**
   * A leader elector on a Lease in this substrate's namespace, for the controller replicas of one
   * pool: only the leader reconciles, every replica serves claims.
   */
  leaderElection(options: Omit<LeaderElectionOptions, 'kubeconfig' | 'namespace'>): LeaderElector {
    return new LeaderElector({ ...options, ...(this.options.kubeconfig !== undefined ? { kubeconfig: this.options.kubeconfig } : {}), namespace: this.namespace });
  }

  async createRunner(template: RunnerTemplate): Promise<Runner> {
    await this.ready();
    const body = runnerPod(await this.podTemplate, template, this.tokenSecret);
    const pod = await this.core.createNamespacedPod({ namespace: this.namespace, body }).catch((error: unknown) => {
      throw this.failure(API_CALLS.createPod, error);
    });
    this.informer.record('ADDED', pod);
    return this.toRunner(pod);
  }

  async deleteRunner(id: string): Promise<void> {
    await this.ready();
    // A pod already being deleted needs no second request (its kubelet is stopping it).
    if (this.informer.get(id)?.metadata?.deletionTimestamp) return;
    try {
      const pod = await this.core.deleteNamespacedPod({ name: id, namespace: this.namespace });
      if (pod.metadata?.deletionTimestamp) this.informer.record('MODIFIED', pod);
    } catch (error) {
      if (apiStatus(error) === 404) return;
      throw this.failure(API_CALLS.deletePod, error);
    }
  }

  async listRunners(pool?: string): Promise<Runner[]> {
    await this.ready();
    return this.informer
      .items()
      .map((pod) => runnerFromPod(pod))
      .filter((runner): runner is Runner => runner !== undefined && (pool === undefined || runner.pool === pool));
  }

  /**
   * Compare-and-set. A patch the API server would certainly refuse with 409 is not sent: when the
   * informer already holds a later version, or when another patch of this substrate at the same
   * version is on its way (at most one of them can apply, and once one has, the version changed).
   * So concurrent claims on one runner cost one request per version from each controller replica.
   */
  async updateRunner(id: string, expectedVersion: string, patch: RunnerPatch): Promise<Runner> {
    const body = runnerPatchBody(expectedVersion, patch);
    const key = `${id}@${expectedVersion}`;
    for (let earlier = this.patching.get(key); earlier !== undefined; earlier = this.patching.get(key)) {
      const failure = await earlier.then(
        () => undefined,
        (error: unknown) => error,
      );
      // It applied, or found the runner changed or gone: this patch would meet the same. Any other
      // failure (no answer) says nothing about the version, so this one is sent.
      if (failure === undefined || (isMcpWarmError(failure) && failure.code === 'RUNNER_CONFLICT')) throw conflict(id, expectedVersion);
      if (isMcpWarmError(failure) && failure.code === 'RUNNER_NOT_FOUND') throw failure;
    }
    if (isLaterVersion(this.informer.get(id)?.metadata?.resourceVersion, expectedVersion)) throw conflict(id, expectedVersion);
    const sending = this.sendPatch(id, expectedVersion, body);
    this.patching.set(key, sending);
    try {
      return await sending;
    } finally {
      if (this.patching.get(key) === sending) this.patching.delete(key);
    }
  }

  private async sendPatch(id: string, expectedVersion: string, body: ReturnType<typeof runnerPatchBody>): Promise<Runner> {
    let pod: V1Pod;
    try {
      pod = await this.core.patchNamespacedPod({ name: id, namespace: this.namespace, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    } catch (error) {
      const status = apiStatus(error);
      if (status === 409) throw conflict(id, expectedVersion);
      if (status === 404) throw new McpWarmError('RUNNER_NOT_FOUND', `no runner pod ${id} in namespace ${this.namespace}`, { details: { id } });
      throw this.failure(API_CALLS.patchPod, error);
    }
    this.informer.record('MODIFIED', pod);
    return this.toRunner(pod);
  }

  watch(listener: (event: RunnerEvent) => void): () => void {
    this.informer.start();
    return this.informer.subscribe((change) => {
      const runner = runnerFromPod(change.object, change.type === 'deleted' ? 'gone' : undefined);
      if (runner !== undefined) listener({ type: change.type, runner });
    });
  }

  async close(): Promise<void> {
    await this.informer.stop();
  }

  /** Waits for the pod template and the informer's first list; a failure of either is a coded error. */
  private async ready(): Promise<void> {
    await this.podTemplate;
    await this.informer.ready().catch((failure: InformerFailure) => {
      throw this.failure(failure.step === 'list' ? API_CALLS.listPods : API_CALLS.watchPods, failure.error);
    });
  }

  private toRunner(pod: V1Pod): Runner {
    const runner = runnerFromPod(pod);
    if (runner === undefined) throw new McpWarmError('SUBSTRATE_FAILED', `pod ${pod.metadata?.name} lost its runner labels`);
    return runner;
  }

  private failure(call: ApiCall, error: unknown): McpWarmError {
    return kubeError(call, { server: this.target.server, namespace: this.namespace }, error);
  }
}

/**
 * A test double of the scheduler and kubelet of one node, for runner pods on the test-only API
 * server: it binds each new runner pod to its node, starts the pod's `agent` container as a local
 * runner agent process (its arguments from the pod spec, its token from the Secret the pod's
 * environment names, its own loopback address as the pod IP so every pod listens on the
 * container's port), reports the pod's status (Pending, Running, Ready once the readiness probe
 * answers, Failed when the agent exits: restartPolicy Never), and honours graceful deletion:
 * stop the agent within the grace period, then delete the pod for good. It can also evict a pod
 * (as node pressure does). It is a test double, not a product.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sweepInstances } from '../../runner/agent/leftovers.js';
import { defaultAgentCommand, isAgentProcess, spawnAgent, stopAgent } from '../../runner/substrates/process/agent-process.js';
import { AGENT_CONTAINER, AGENT_PORT_NAME, COMPONENT_LABEL, RUNNER_COMPONENT, TOKEN_ENV } from '../../runner/substrates/kubernetes/pod-runner.js';
import { KubeStatusError, type KubeObject, type KubeStore, type StoreEvent } from './kube-store.js';

export interface KubeletDoubleOptions {
  store: KubeStore;
  /** Per-pod directories (token, cache, log) go below it. */
  workDir: string;
  /** Secrets the pods' `secretKeyRef`s may name: name -> key -> value. */
  secrets: Record<string, Record<string, string>>;
  nodeName?: string;
  agentCommand?: string[];
  probeIntervalMs?: number;
}

interface PodRun {
  namespace: string;
  name: string;
  dir: string;
  tokenFile: string;
  pid?: number;
  ip: string;
  port: number;
  stopping?: Promise<void>;
  ended: boolean;
}

const FLAGS_SET_BY_KUBELET = /^--(host|port|cache|token-file)(=|$)/;

function isRunnerPod(object: KubeObject): boolean {
  return object.kind === 'Pod' && object.metadata.labels?.[COMPONENT_LABEL] === RUNNER_COMPONENT;
}

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class KubeletDouble {
  readonly nodeName: string;
  private readonly runs = new Map<string, PodRun>();
  private readonly agentCommand: string[];
  private readonly subnet = 10 + Math.floor(Math.random() * 240);
  private nextAddress = 0;
  private unsubscribe: (() => void) | undefined;
  private readonly pending = new Set<Promise<void>>();
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly options: KubeletDoubleOptions) {
    this.nodeName = options.nodeName ?? 'kubelet-double';
    this.agentCommand = options.agentCommand ?? defaultAgentCommand();
  }

  start(): void {
    this.unsubscribe = this.options.store.subscribe((event) => {
      if (event.resource !== 'pods' || !isRunnerPod(event.object)) return;
      // One pod's events are handled one after another, in order.
      const key = `${event.object.metadata.namespace}/${event.object.metadata.name}`;
      const next = (this.chains.get(key) ?? Promise.resolve()).then(() => this.onEvent(event));
      this.chains.set(key, next);
      this.track(next.finally(() => this.chains.get(key) === next && this.chains.delete(key)));
    });
  }

  /** Agents running now, by pod name. */
  running(): string[] {
    return [...this.runs.values()].filter((run) => !run.ended).map((run) => run.name);
  }

  /** Evicts a pod as node pressure does: its agent is killed and the pod ends Failed (reason Evicted). */
  async evict(namespace: string, name: string): Promise<void> {
    const run = this.runs.get(`${namespace}/${name}`);
    if (!run) throw new Error(`no pod ${namespace}/${name} runs on ${this.nodeName}`);
    await this.end(run, 0);
    this.setStatus(run, { phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.', conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: now() }] });
  }

  /** Stops every agent it started (the pods stay as they are). */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    // Ending every run first lets the probes (among the pending work) finish.
    await Promise.all([...this.runs.values()].map((run) => this.end(run, 0)));
    await Promise.all([...this.pending]);
    await Promise.all([...this.runs.values()].map((run) => this.end(run, 0)));
    await Promise.all([...this.runs.values()].map((run) => rm(run.dir, { recursive: true, force: true })));
    this.runs.clear();
  }

  private track(work: Promise<unknown>): void {
    const tracked: Promise<void> = work
      .then(
        () => undefined,
        (error: unknown) => {
          process.stderr.write(`kubelet double: ${(error as Error).stack ?? String(error)}\n`);
        },
      )
      .finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  private async onEvent(event: StoreEvent): Promise<void> {
    const { namespace, name } = event.object.metadata;
    const run = this.runs.get(`${namespace}/${name}`);
    if (event.type === 'ADDED' && !event.object.spec.nodeName) return this.startPod(event.object);
    if (!run) return;
    if (event.type === 'DELETED') {
      await this.end(run, 0);
      return this.forget(run);
    }
    if (event.object.metadata.deletionTimestamp) {
      // Also when the agent was stopped already (evicted, exited): the pod must still go.
      await this.end(run, (event.object.metadata.deletionGracePeriodSeconds ?? 30) * 1000);
      try {
        this.options.store.delete('pods', namespace, name, { gracePeriodSeconds: 0, preconditions: { uid: event.object.metadata.uid } });
      } catch (error) {
        if (!(error instanceof KubeStatusError)) throw error;
      }
      await this.forget(run);
    }
  }

  private allocateAddress(): string {
    const n = this.nextAddress++;
    return `127.${this.subnet}.${Math.floor(n / 250)}.${2 + (n % 250)}`;
  }

  private secretValue(ref: { name?: string; key?: string } | undefined): string {
    const value = this.options.secrets[ref?.name ?? '']?.[ref?.key ?? ''];
    if (value === undefined) throw new Error(`secret ${ref?.name}/${ref?.key} does not exist`);
    return value;
  }

  private async startPod(pod: KubeObject): Promise<void> {
    const { namespace, name } = pod.metadata;
    const container = pod.spec.containers.find((c: { name: string }) => c.name === AGENT_CONTAINER);
    const port = Number(container?.ports?.find((p: { name?: string }) => p.name === AGENT_PORT_NAME)?.containerPort);
    const dir = join(this.options.workDir, namespace, name);
    const run: PodRun = { namespace, name, dir, tokenFile: join(dir, 'token'), ip: this.allocateAddress(), port, ended: false };
    this.runs.set(`${namespace}/${name}`, run);
    this.options.store.bind(namespace, name, this.nodeName);
    const args: string[] = container?.args ?? [];
    const tokenVar = (container?.env ?? []).find((v: { name: string }) => v.name === TOKEN_ENV);
    // The runner image's entrypoint is the agent; a pod that replaces it runs something else.
    if (container?.command !== undefined || !Number.isInteger(port) || tokenVar === undefined) {
      const reason = container?.command !== undefined ? 'the agent container replaces the entrypoint' : !Number.isInteger(port) ? `no port named ${AGENT_PORT_NAME}` : `no ${TOKEN_ENV}`;
      this.setStatus(run, { phase: 'Pending', containerStatuses: [{ name: AGENT_CONTAINER, ready: false, restartCount: 0, image: container?.image ?? '', imageID: '', state: { waiting: { reason: 'CreateContainerConfigError', message: reason } } }] });
      return;
    }
    await mkdir(join(dir, 'cache'), { recursive: true, mode: 0o755 });
    await writeFile(run.tokenFile, `${tokenVar.valueFrom?.secretKeyRef ? this.secretValue(tokenVar.valueFrom.secretKeyRef) : tokenVar.value}\n`, { mode: 0o600 });
    const agentArgs = [
      `--host=${run.ip}`,
      `--port=${port}`,
      `--cache=${join(dir, 'cache')}`,
      `--token-file=${run.tokenFile}`,
      ...args.filter((arg) => !FLAGS_SET_BY_KUBELET.test(arg)),
    ];
    run.pid = await spawnAgent(this.agentCommand, agentArgs, join(dir, 'agent.log'));
    // Stopped while it was being started: it must not outlive the stop.
    if (run.stopping) return stopAgent(run.pid, run.tokenFile, 0);
    const started = now();
    this.setStatus(run, {
      phase: 'Running',
      podIP: run.ip,
      podIPs: [{ ip: run.ip }],
      hostIP: '127.0.0.1',
      startTime: started,
      conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Initialized', status: 'True' }, { type: 'ContainersReady', status: 'False' }, { type: 'Ready', status: 'False' }],
      containerStatuses: [{ name: AGENT_CONTAINER, ready: false, started: true, restartCount: 0, image: container.image, imageID: '', state: { running: { startedAt: started } } }],
    });
    this.track(this.probe(run, container.readinessProbe?.httpGet?.path ?? '/ready', container.image));
  }

  /** Readiness until ready, then liveness of the process until it exits or the pod is stopped. */
  private async probe(run: PodRun, path: string, image: string): Promise<void> {
    const interval = this.options.probeIntervalMs ?? 100;
    let ready = false;
    while (!run.ended && !run.stopping) {
      if (!(await isAgentProcess(run.pid!, run.tokenFile))) {
        if (run.ended || run.stopping) return;
        run.ended = true;
        const finished = now();
        this.setStatus(run, {
          phase: 'Failed',
          conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: finished }],
          containerStatuses: [{ name: AGENT_CONTAINER, ready: false, restartCount: 0, image, imageID: '', state: { terminated: { exitCode: 1, reason: 'Error', finishedAt: finished } } }],
        });
        return;
      }
      if (!ready) {
        const answered = await fetch(`http://${run.ip}:${run.port}${path}`, { signal: AbortSignal.timeout(2000) }).then(
          async (response) => {
            await response.body?.cancel();
            return response.status >= 200 && response.status < 400;
          },
          () => false,
        );
        if (answered && !run.ended && !run.stopping) {
          ready = true;
          const at = now();
          this.setStatus(run, {
            conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Initialized', status: 'True' }, { type: 'ContainersReady', status: 'True', lastTransitionTime: at }, { type: 'Ready', status: 'True', lastTransitionTime: at }],
            containerStatuses: [{ name: AGENT_CONTAINER, ready: true, started: true, restartCount: 0, image, imageID: '', state: { running: { startedAt: at } } }],
          });
        }
      }
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
  }

  /** Stops the pod's agent (SIGTERM, SIGKILL after the grace period) and sweeps what it left. */
  private end(run: PodRun, graceMs: number): Promise<void> {
    run.stopping ??= (async () => {
      if (run.pid !== undefined) await stopAgent(run.pid, run.tokenFile, graceMs);
      await sweepInstances(join(run.dir, 'cache', 'instances'));
      run.ended = true;
    })();
    return run.stopping;
  }

  private async forget(run: PodRun): Promise<void> {
    this.runs.delete(`${run.namespace}/${run.name}`);
    await rm(run.dir, { recursive: true, force: true });
  }

  private setStatus(run: PodRun, status: Record<string, unknown>): void {
    try {
      this.options.store.patch('pods', run.namespace, run.name, { status }, 'status');
    } catch (error) {
      // The pod may be gone already.
      if (!(error instanceof KubeStatusError && error.status.code === 404)) throw error;
    }
  }
}

/**
 * A runner agent as a Docker container: started from the runner image with the runner's cache and
 * token bound in, found again by its container id, listed by the label of the substrate's state
 * directory, and watched through the engine's event stream (die and destroy of those containers).
 */
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { unmountUnder } from '../../mounts.js';
import { listeningUrlIn } from '../agent-runners/agent-flags.js';
import type { AgentHost, AgentStart, RunnerPaths, SurveyedRunner } from '../agent-runners/agent-host.js';
import { containerName, HOST_NETWORK, LABELS, runnerContainerSpec, stateDirFilter } from './container-spec.js';
import { dockerClient, engineCall, engineCallIfPresent } from './engine.js';
import { endedContainer, EventLines } from './engine-events.js';
import { demuxLogFrames } from './log-frames.js';

/** What a docker runner's record holds to find its agent again. */
export interface RunnerContainerHandle {
  containerId: string;
}

export interface DockerAgentHostOptions {
  /** Absolute path of the substrate's state directory. */
  stateDir: string;
  socketPath: string;
  /** The runner image to start containers from (built or found on first use). */
  runnerImage: () => Promise<string>;
  network: string;
  agentCommand?: string[];
}

const CONTAINER_ID = /^[0-9a-f]{64}$/;
const EVENTS_RETRY_MS = 2000;

export class DockerAgentHost implements AgentHost<RunnerContainerHandle> {
  readonly name = 'docker';
  private readonly docker: Docker;
  /** Containers the engine's events said died: its container list can still show them running for a moment. */
  private readonly ended = new Set<string>();

  constructor(private readonly options: DockerAgentHostOptions) {
    this.docker = dockerClient(options.socketPath);
  }

  parseHandle(value: unknown): RunnerContainerHandle | undefined {
    const containerId = (value as { containerId?: unknown } | null)?.containerId;
    return typeof containerId === 'string' && CONTAINER_ID.test(containerId) ? { containerId } : undefined;
  }

  async start(agent: AgentStart): Promise<RunnerContainerHandle> {
    const { socketPath, stateDir, network, agentCommand } = this.options;
    const image = await this.options.runnerImage();
    const spec = runnerContainerSpec({ ...agent, image, stateDir, network, ...(agentCommand !== undefined ? { agentCommand } : {}) });
    const container = await engineCall(socketPath, `creating container ${containerName(agent.id)}`, () => this.docker.createContainer(spec));
    try {
      await engineCall(socketPath, `starting container ${containerName(agent.id)}`, () => container.start());
    } catch (error) {
      await container.remove({ force: true, v: true }).catch(() => undefined);
      throw error;
    }
    return { containerId: container.id };
  }

  async stop(handle: RunnerContainerHandle, paths: RunnerPaths, graceMs: number): Promise<void> {
    const { socketPath } = this.options;
    const container = this.docker.getContainer(handle.containerId);
    // Docker's stop: SIGTERM, SIGKILL after t seconds; 304 when it had stopped already.
    await engineCallIfPresent(socketPath, `stopping container ${handle.containerId}`, () => container.stop({ t: Math.ceil(graceMs / 1000) }), [304]);
    // 409: a removal already in progress.
    await engineCallIfPresent(socketPath, `removing container ${handle.containerId}`, () => container.remove({ force: true, v: true }), [409]);
    // The agent's overlays live in the container's mount namespace and went with it; nothing it
    // did may keep the runner's directory mounted on the host either.
    await unmountUnder(paths.dir);
  }

  async isRunning(handle: RunnerContainerHandle): Promise<boolean> {
    const info = await this.inspect(handle);
    return info?.State.Running === true && !this.ended.has(handle.containerId);
  }

  async survey(runners: ReadonlyArray<SurveyedRunner<RunnerContainerHandle>>, isKnown: (id: string) => Promise<boolean>): Promise<Set<string>> {
    const { socketPath, stateDir } = this.options;
    const containers = await engineCall(socketPath, 'listing runner containers', () =>
      this.docker.listContainers({ all: true, filters: { label: [stateDirFilter(stateDir)] } }),
    );
    const recorded = new Map(runners.map((runner) => [runner.agent.containerId, runner.id]));
    const running = new Set<string>();
    const listed = new Set(containers.map((container) => container.Id));
    for (const id of this.ended) if (!listed.has(id)) this.ended.delete(id);
    for (const container of containers) {
      const runnerId = recorded.get(container.Id);
      if (runnerId !== undefined) {
        if (container.State === 'running' && !this.ended.has(container.Id)) running.add(runnerId);
        continue;
      }
      const labelled = container.Labels[LABELS.runner];
      if (labelled === undefined || !(await isKnown(labelled))) {
        await engineCallIfPresent(socketPath, `removing leftover container ${container.Id}`, () => this.docker.getContainer(container.Id).remove({ force: true, v: true }), [409]);
      }
    }
    return running;
  }

  async listeningUrl(handle: RunnerContainerHandle): Promise<string | undefined> {
    const url = listeningUrlIn(await this.logs(handle));
    if (url === undefined || this.options.network === HOST_NETWORK) return url;
    // In a network of its own the agent listens on every address; the controller reaches the container's.
    const address = (await this.inspect(handle))?.NetworkSettings.Networks[this.options.network]?.IPAddress;
    if (!address) return undefined;
    const reachable = new URL(url);
    reachable.hostname = address;
    return reachable.origin;
  }

  async logTail(handle: RunnerContainerHandle, _paths: RunnerPaths, lines: number): Promise<string> {
    return (await this.logs(handle, lines)).trimEnd();
  }

  watchExits(exited: () => void): () => void {
    let stream: Readable | undefined;
    let retry: NodeJS.Timeout | undefined;
    let stopped = false;
    const reopenLater = (): void => {
      stream = undefined;
      if (stopped) return;
      // The engine went away (or restarted): listen again once it is back; the periodic check covers the gap.
      retry = setTimeout(() => void open(), EVENTS_RETRY_MS);
      retry.unref();
    };
    const open = async (): Promise<void> => {
      try {
        const events = (await this.docker.getEvents({
          filters: { type: ['container'], event: ['die', 'destroy'], label: [stateDirFilter(this.options.stateDir)] },
        })) as Readable;
        if (stopped) return void events.destroy();
        stream = events;
        const lines = new EventLines();
        events.on('data', (chunk: Buffer) => {
          for (const line of lines.push(chunk)) {
            const id = endedContainer(line);
            if (id !== undefined) this.ended.add(id);
          }
          exited();
        });
        events.once('error', () => undefined);
        events.once('close', reopenLater);
      } catch {
        reopenLater();
      }
    };
    void open();
    return () => {
      stopped = true;
      clearTimeout(retry);
      stream?.destroy();
    };
  }

  async close(): Promise<void> {}

  private inspect(handle: RunnerContainerHandle): Promise<Docker.ContainerInspectInfo | undefined> {
    return engineCallIfPresent(this.options.socketPath, `inspecting container ${handle.containerId}`, () => this.docker.getContainer(handle.containerId).inspect());
  }

  /** The container's output (stdout and stderr, in order), or its last `tail` lines; empty once it is gone. */
  private async logs(handle: RunnerContainerHandle, tail?: number): Promise<string> {
    const raw = await engineCallIfPresent(this.options.socketPath, `reading the log of container ${handle.containerId}`, () =>
      this.docker.getContainer(handle.containerId).logs({ stdout: true, stderr: true, follow: false, ...(tail !== undefined ? { tail } : {}) }),
    );
    return raw === undefined ? '' : demuxLogFrames(raw);
  }
}

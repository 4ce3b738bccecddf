/**
 * The `docker` substrate: each runner is a runner agent in a Docker container started from the
 * runner image (runner-image.ts), on the host's network by default so the agent reaches a
 * registry on the host's loopback and the controller reaches the agent. Containers are labelled
 * with their runner, pool and this substrate's state directory; a runner's state, version and
 * annotations live in the shared records under that directory (Docker labels cannot change), so
 * run one controller per state directory. Listing reconciles the records with the engine: a
 * runner whose container exited or vanished is `failed` or `gone`, and a labelled container
 * with no record (a creation cut short) is removed.
 */
import { resolve } from 'node:path';
import { AgentRunnerSubstrate, type AgentRunnerOptions } from '../agent-runners/substrate.js';
import { DockerAgentHost, type RunnerContainerHandle } from './agent-container.js';
import { HOST_NETWORK } from './container-spec.js';
import { dockerSocketPath } from './engine.js';
import { ensureRunnerImage } from './runner-image.js';

export interface DockerSubstrateOptions extends AgentRunnerOptions {
  /** The runner image to start; built and loaded on first use when not given. */
  runnerImage?: string;
  /** The engine's unix socket (default: DOCKER_HOST's, else /var/run/docker.sock). */
  socketPath?: string;
  /** `host` (default) or the name of a Docker network the runner containers join. */
  network?: string;
  /** Replaces the runner image's entrypoint (`mcpwarm agent`); the agent flags follow it. */
  agentCommand?: string[];
}

/** Made once, on first use; a failed attempt is retried by the next runner creation. */
function lazyRunnerImage(options: DockerSubstrateOptions, socketPath: string): () => Promise<string> {
  if (options.runnerImage !== undefined) return () => Promise.resolve(options.runnerImage!);
  let image: Promise<string> | undefined;
  return () => {
    image ??= ensureRunnerImage({ socketPath }).then(
      (ensured) => ensured.tag,
      (error: unknown) => {
        image = undefined;
        throw error;
      },
    );
    return image;
  };
}

export class DockerSubstrate extends AgentRunnerSubstrate<RunnerContainerHandle> {
  constructor(options: DockerSubstrateOptions) {
    const socketPath = options.socketPath ?? dockerSocketPath();
    super(
      new DockerAgentHost({
        stateDir: resolve(options.stateDir),
        socketPath,
        runnerImage: lazyRunnerImage(options, socketPath),
        network: options.network ?? HOST_NETWORK,
        ...(options.agentCommand !== undefined ? { agentCommand: options.agentCommand } : {}),
      }),
      { ...options, pollIntervalMs: options.pollIntervalMs ?? 2000 },
    );
  }
}

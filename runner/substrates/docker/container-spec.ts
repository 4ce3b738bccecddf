/**
 * A runner's container as the Engine API creates it: labels that tie it to its runner, pool and
 * substrate state directory; the runner's cache and token bound in from the host; the agent's
 * flags; and only the privileges the agent's sandbox needs:
 *
 * - CAP_SYS_ADMIN: the agent mounts overlay root filesystems for its servers (and makes the
 *   container's own cgroups writable to give each server a cgroup below them);
 * - apparmor=unconfined: Docker's default AppArmor profile denies mount(2) even with the capability;
 * - seccomp=unconfined: Docker's default seccomp profile refuses the namespace-creating clone and
 *   unshare calls bwrap makes as the server's unprivileged user;
 * - systempaths=unconfined, for the bwrap sandbox (and `auto`, which picks it): bwrap mounts a
 *   fresh /proc for the server's pid namespace, which the kernel refuses while parts of the
 *   container's /proc are masked. chroot and none do without it.
 *
 * Not --privileged: no device access, no other capability. The cache is a bind-mounted host
 * directory because overlay cannot use the container's own overlay root as its upper layer.
 */
import type Docker from 'dockerode';
import { agentFlags } from '../agent-runners/agent-flags.js';
import type { AgentStart } from '../agent-runners/agent-host.js';

export const LABELS = {
  pool: 'mcpwarm.dev/pool',
  runner: 'mcpwarm.dev/runner',
  /** The substrate's state directory: a controller only ever touches the containers of its own. */
  stateDir: 'mcpwarm.dev/state-dir',
} as const;

export const CONTAINER_CACHE_DIR = '/var/lib/mcpwarm/cache';
export const CONTAINER_TOKEN_FILE = '/run/mcpwarm/token';
/** The agent's port in a container with a network namespace of its own (with `host`, it picks a free one). */
export const CONTAINER_AGENT_PORT = 8080;
export const HOST_NETWORK = 'host';

/** Sandboxes that need /proc unmasked (bwrap mounts its own); `auto` picks bwrap when it can run. */
const PROC_MOUNTING_SANDBOXES = ['auto', 'bwrap'];

export interface RunnerContainerInput extends AgentStart {
  image: string;
  /** Absolute path of the substrate's state directory. */
  stateDir: string;
  /** `host`, or the name of a Docker network. */
  network: string;
  /** Replaces the image's entrypoint (`mcpwarm agent`); the agent flags follow it. */
  agentCommand?: string[];
}

export function runnerPrivileges(sandbox: string | undefined): Pick<Docker.HostConfig, 'CapAdd' | 'SecurityOpt' | 'MaskedPaths' | 'ReadonlyPaths'> {
  const privileges = { CapAdd: ['SYS_ADMIN'], SecurityOpt: ['apparmor=unconfined', 'seccomp=unconfined'] };
  // What `--security-opt systempaths=unconfined` means (the docker CLI translates it; the API takes the lists).
  return PROC_MOUNTING_SANDBOXES.includes(sandbox ?? 'auto') ? { ...privileges, MaskedPaths: [], ReadonlyPaths: [] } : privileges;
}

/** The label filter that finds the containers of one state directory. */
export function stateDirFilter(stateDir: string): string {
  return `${LABELS.stateDir}=${stateDir}`;
}

export function containerName(runnerId: string): string {
  return `mcpwarm-${runnerId}`;
}

export function runnerContainerSpec(input: RunnerContainerInput): Docker.ContainerCreateOptions {
  const ownNetwork = input.network !== HOST_NETWORK;
  const flags = agentFlags(input.template, {
    host: ownNetwork ? '0.0.0.0' : '127.0.0.1',
    port: ownNetwork ? CONTAINER_AGENT_PORT : 0,
    cacheDir: CONTAINER_CACHE_DIR,
    tokenFile: CONTAINER_TOKEN_FILE,
  });
  return {
    name: containerName(input.id),
    Image: input.image,
    ...(input.agentCommand !== undefined ? { Entrypoint: input.agentCommand } : {}),
    Cmd: flags,
    Labels: { [LABELS.pool]: input.template.pool, [LABELS.runner]: input.id, [LABELS.stateDir]: input.stateDir },
    HostConfig: {
      NetworkMode: input.network,
      // tini as pid 1: signals reach the agent, and the processes its sandboxes leave are reaped.
      Init: true,
      Mounts: [
        { Type: 'bind', Source: input.paths.cacheDir, Target: CONTAINER_CACHE_DIR },
        { Type: 'bind', Source: input.paths.tokenFile, Target: CONTAINER_TOKEN_FILE, ReadOnly: true },
      ],
      RestartPolicy: { Name: 'no' },
      ...runnerPrivileges(input.template.sandbox),
    },
  };
}

/**
 * One interface for every way of starting an MCP server from a composed rootfs. Callers pick a
 * sandbox through the registry (by name, or the strongest available) and never branch on names.
 */
import type { Readable, Writable } from 'node:stream';

export type SandboxName = 'runc' | 'bwrap' | 'chroot' | 'none';

export interface ResourceLimits {
  memoryMiB?: number;
  /** CPU quota in cores (0.5 = half a core). */
  cpus?: number;
  pids?: number;
}

export interface LaunchSpec {
  /** Instance id: names the container, cgroup and bundle. [a-z0-9-]+, at most 64 characters. */
  id: string;
  /** The composed root filesystem (writable: an overlay's upper or a private copy). */
  rootfs: string;
  /** Entrypoint + cmd, already merged with the request's overrides. */
  argv: string[];
  /** KEY=VALUE, the image's Env merged with the request's. */
  env: string[];
  /** Working directory inside the rootfs. */
  cwd: string;
  /** Numeric ids, resolved against the rootfs's /etc/passwd and /etc/group by the caller. */
  user: { uid: number; gid: number; additionalGids: number[] };
  limits: ResourceLimits;
  /** Give the server network access (default: none, only a loopback interface where the sandbox has namespaces). */
  network: boolean;
  /** Scratch directory of this launch (bundle, state); created by the caller, removed by stop(). */
  workDir: string;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SandboxedProcess {
  /** Host pid of the server process itself (not of a runtime wrapper, where one can tell). */
  readonly pid: number;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Settles when the server has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  /**
   * Stops the server: closes stdin, then SIGTERM, then SIGKILL after `graceMs`; then removes what
   * the launch made (bundle, runtime state, cgroups). Idempotent; resolves when all is gone.
   */
  stop(graceMs: number): Promise<void>;
}

export interface SandboxAvailability {
  available: boolean;
  /** Why not, when not (a missing binary, not root, no cgroup controller...). */
  reason?: string;
}

export interface Sandbox {
  readonly name: SandboxName;
  /** Isolation rank for `auto`: the available sandbox with the highest strength wins. */
  readonly strength: number;
  /** Whether it can run here; checked once and cached by the registry. */
  probe(): Promise<SandboxAvailability>;
  launch(spec: LaunchSpec): Promise<SandboxedProcess>;
  /**
   * Stops and removes whatever this sandbox still holds for these launch ids (processes, cgroups,
   * runtime state): what an agent that died left behind. Unknown ids are fine.
   */
  sweep(ids: readonly string[]): Promise<void>;
}

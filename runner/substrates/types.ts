/**
 * Where runners (warm runner agents) live: local processes, Docker containers, Kubernetes pods.
 * A runner carries its state on the substrate (labels and annotations, with a version for
 * optimistic concurrency), so a restarted controller recovers the pool from the substrate alone,
 * and the controller never branches on which substrate it talks to.
 */
import type { ErrorCode } from '../errors.js';

export type RunnerState = 'warm' | 'claimed' | 'draining';

/** Where a runner's agent process is in its life, as the substrate sees it. */
export type RunnerPhase = 'pending' | 'running' | 'failed' | 'gone';

export interface Runner {
  /** Unique on the substrate; [a-z0-9-], at most 63 characters (a valid Kubernetes name). */
  id: string;
  /** The pool it belongs to (label `mcpwarm.dev/pool`). */
  pool: string;
  /** Label `mcpwarm.dev/state`. */
  state: RunnerState;
  phase: RunnerPhase;
  /** The agent's base URL once it listens, as reachable from the controller. */
  endpoint?: string;
  /** Free-form annotations: activation id, image, claim time, lease expiry. */
  annotations: Record<string, string>;
  createdAt: string;
  /** Changes on every update; updates must name the version they read (compare-and-set). */
  version: string;
}

export interface RunnerTemplate {
  pool: string;
  /** Bearer token the runner agent requires (the controller holds it). */
  token: string;
  sandbox?: string;
  cacheBudget?: string;
  allow?: string[];
  /** Registries the runner agents pull from over plain HTTP although not on loopback (agent `--insecure-registry`). */
  insecureRegistries?: string[];
}

export type RunnerEvent = { type: 'added' | 'modified' | 'deleted'; runner: Runner };

export interface RunnerPatch {
  state?: RunnerState;
  /** Keys set to null are removed. */
  annotations?: Record<string, string | null>;
}

/** This replica's standing in a leader election among the controller replicas of one pool. */
export interface LeaderElection {
  start(): void;
  /** Stops taking part; `release` hands the lease over at once instead of letting it expire. */
  stop(release?: boolean): Promise<void>;
  isLeader(): boolean;
}

export interface LeaderElectionRequest {
  leaseName: string;
  /** Unique per replica (a pod name, or host and pid). */
  identity: string;
  onChange?: (leading: boolean) => void;
}

/**
 * Whether the substrate can see and change its runners now. Not ok while a service it depends on
 * does not answer (the Kubernetes API server): the reason is the coded error its calls fail with,
 * and `since` when that began (ISO 8601).
 */
export type SubstrateHealth = { ok: true } | { ok: false; reason: { code: ErrorCode; message: string; since: string } };

export interface Substrate {
  readonly name: string;
  /**
   * Present where the substrate depends on a service that can go away while the controller runs.
   * The controller's `/ready` is 503 while it is not ok, and `GET /pool` reports it. Without it
   * the substrate counts as healthy.
   */
  health?(): SubstrateHealth;
  /**
   * Present where several controller replicas can share a pool (Kubernetes): only the leader
   * reconciles, every replica serves claims. Without it a pool has one controller.
   */
  leaderElection?(request: LeaderElectionRequest): LeaderElection;
  /** Creates a runner in state `warm` and phase `pending`; it becomes `running` when its agent is ready. */
  createRunner(template: RunnerTemplate): Promise<Runner>;
  /** Stops and removes a runner and everything it had; deleting a missing runner is fine. */
  deleteRunner(id: string): Promise<void>;
  listRunners(pool?: string): Promise<Runner[]>;
  /**
   * Compare-and-set: applies `patch` only if the runner is still at `expectedVersion`; otherwise
   * rejects with McpWarmError 'RUNNER_CONFLICT' (someone else changed it first: re-read and retry).
   */
  updateRunner(id: string, expectedVersion: string, patch: RunnerPatch): Promise<Runner>;
  /** Calls `listener` for every change until the returned function is called. */
  watch(listener: (event: RunnerEvent) => void): () => void;
  /** Releases the substrate's own resources (not the runners: they outlive a controller). */
  close(): Promise<void>;
}

/**
 * Where a runner's agent runs, for the substrates that run runner agents themselves (a local
 * process, a Docker container): the one part that differs between them. Records, compare-and-set,
 * readiness, liveness and watch events are the shared AgentRunnerSubstrate's.
 */
import type { RunnerTemplate } from '../types.js';

/** A runner's files on the controller's host, in `stateDir/runners/<id>/`. */
export interface RunnerPaths {
  dir: string;
  /** The agent's image cache: snapshots, and the overlay upper dirs of its instances. */
  cacheDir: string;
  /** The bearer token the agent requires (mode 0600). */
  tokenFile: string;
}

export interface AgentStart {
  /** The runner's id. */
  id: string;
  template: RunnerTemplate;
  paths: RunnerPaths;
}

export interface SurveyedRunner<Handle> {
  id: string;
  agent: Handle;
  paths: RunnerPaths;
}

export interface AgentHost<Handle> {
  /** The substrate's name (`Substrate.name`). */
  readonly name: string;
  /** The handle as stored in a runner record, or undefined when `value` is not one. */
  parseHandle(value: unknown): Handle | undefined;
  /**
   * Starts the runner's agent, listening where the controller can reach it, and answers how to
   * find it again. When it fails, nothing it started is left behind.
   */
  start(agent: AgentStart): Promise<Handle>;
  /**
   * Stops the agent (SIGTERM, and after `graceMs` SIGKILL) and removes whatever the host holds for
   * it outside `paths.dir`, which the caller removes next. An agent that is gone already is fine.
   */
  stop(handle: Handle, paths: RunnerPaths, graceMs: number): Promise<void>;
  isRunning(handle: Handle, paths: RunnerPaths): Promise<boolean>;
  /**
   * The ids of these runners whose agents run, in one look. Agents this host started for the same
   * state directory for a runner that `isKnown` denies (no record, not being created: what a
   * creation or deletion cut short left) are removed on the way.
   */
  survey(runners: ReadonlyArray<SurveyedRunner<Handle>>, isKnown: (id: string) => Promise<boolean>): Promise<Set<string>>;
  /** The agent's base URL, as the controller reaches it, once the agent has said where it listens. */
  listeningUrl(handle: Handle, paths: RunnerPaths): Promise<string | undefined>;
  /** The last lines of the agent's output (why it failed). */
  logTail(handle: Handle, paths: RunnerPaths, lines: number): Promise<string>;
  /** Calls `exited` whenever the host sees an agent end, sooner than the periodic check; returns how to stop. */
  watchExits?(exited: () => void): () => void;
  /** Releases the host's own resources (not the agents: they outlive a controller). */
  close(): Promise<void>;
}

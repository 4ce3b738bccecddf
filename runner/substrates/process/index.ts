/**
 * The `process` substrate: each runner is a runner agent started as a local process, in its own
 * session so it survives the controller, with its log in `stateDir/runners/<id>/agent.log`. The
 * records, readiness and liveness are the shared AgentRunnerSubstrate's (one controller per state
 * directory).
 */
import { join } from 'node:path';
import { sweepInstances } from '../../agent/leftovers.js';
import type { AgentHost, AgentStart, RunnerPaths, SurveyedRunner } from '../agent-runners/agent-host.js';
import { AgentRunnerSubstrate, type AgentRunnerOptions } from '../agent-runners/substrate.js';
import { agentArgs, defaultAgentCommand, isAgentProcess, logTail, readListeningUrl, spawnAgent, stopAgent, type AgentPaths } from './agent-process.js';

export interface ProcessSubstrateOptions extends AgentRunnerOptions {
  /** The command that runs `mcpwarm agent` (flags are appended). */
  agentCommand?: string[];
}

/** What a process runner's record holds to find its agent again. */
export interface AgentProcessHandle {
  pid: number;
}

function agentPaths(paths: RunnerPaths): AgentPaths {
  return { cacheDir: paths.cacheDir, tokenFile: paths.tokenFile, logFile: join(paths.dir, 'agent.log') };
}

class ProcessAgentHost implements AgentHost<AgentProcessHandle> {
  readonly name = 'process';

  constructor(private readonly agentCommand: string[]) {}

  parseHandle(value: unknown): AgentProcessHandle | undefined {
    const pid = (value as { pid?: unknown } | null)?.pid;
    return typeof pid === 'number' && Number.isInteger(pid) && pid > 0 ? { pid } : undefined;
  }

  async start({ template, paths }: AgentStart): Promise<AgentProcessHandle> {
    const files = agentPaths(paths);
    return { pid: await spawnAgent(this.agentCommand, agentArgs(template, files), files.logFile) };
  }

  async stop(handle: AgentProcessHandle, paths: RunnerPaths, graceMs: number): Promise<void> {
    await stopAgent(handle.pid, paths.tokenFile, graceMs);
    // An agent killed at the end of the grace period may leave servers and mounts behind.
    await sweepInstances(join(paths.cacheDir, 'instances'));
  }

  isRunning(handle: AgentProcessHandle, paths: RunnerPaths): Promise<boolean> {
    return isAgentProcess(handle.pid, paths.tokenFile);
  }

  async survey(runners: ReadonlyArray<SurveyedRunner<AgentProcessHandle>>): Promise<Set<string>> {
    // An agent process is found by its record only (its pid): one whose record never got written was stopped by createRunner.
    const alive = await Promise.all(runners.map(async ({ id, agent, paths }) => ((await isAgentProcess(agent.pid, paths.tokenFile)) ? id : undefined)));
    return new Set(alive.filter((id): id is string => id !== undefined));
  }

  listeningUrl(_handle: AgentProcessHandle, paths: RunnerPaths): Promise<string | undefined> {
    return readListeningUrl(agentPaths(paths).logFile);
  }

  logTail(_handle: AgentProcessHandle, paths: RunnerPaths, lines: number): Promise<string> {
    return logTail(agentPaths(paths).logFile, lines);
  }

  async close(): Promise<void> {}
}

export class ProcessSubstrate extends AgentRunnerSubstrate<AgentProcessHandle> {
  constructor(options: ProcessSubstrateOptions) {
    super(new ProcessAgentHost(options.agentCommand ?? defaultAgentCommand()), options);
  }
}

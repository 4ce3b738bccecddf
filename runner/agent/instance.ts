/**
 * A running MCP server instance on this agent: its sandboxed process, its stdio connection and
 * stderr buffer, its Streamable HTTP endpoint, and the rootfs and scratch it lives in. `stop()`
 * takes all of that down, once, whoever calls it (DELETE, the server exiting, agent shutdown).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SandboxName, SandboxedProcess } from '../sandbox/types.js';
import type { PullPhases } from '../oci/puller.js';

export interface ActivationPhases {
  resolveMs: number;
  pullMs: number;
  unpackMs: number;
  mountMs: number;
  startMs: number;
  initializeMs: number;
  /** Only with `agent --inject-delay-ms`: the delay added on purpose, so a regression gate's detection can be measured. */
  injectedDelayMs?: number;
  totalMs: number;
}

/** What `POST /activate` answers and `GET /instances/ID` shows. */
export interface InstanceInfo {
  instanceId: string;
  pid: number;
  image: { ref: string; digest: string };
  sandbox: SandboxName;
  phases: ActivationPhases;
  cache: { layersHit: number; layersMissed: number };
  serverInfo: unknown;
  protocolVersion: string;
  endpoint: string;
  createdAt: string;
  state: 'running' | 'exited' | 'stopping';
  exit?: { code: number | null; signal: string | null };
}

export interface InstanceParts {
  process: SandboxedProcess;
  /** Serves MCP Streamable HTTP for this instance. */
  handleMcp(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** What the server wrote on stderr (bounded). */
  logs(): string;
  /** Everything else to take down after the process, in order (endpoint, rootfs, scratch). */
  teardown(): Promise<void>;
}

export function phasesFrom(pull: PullPhases, rest: Omit<ActivationPhases, 'resolveMs' | 'pullMs' | 'unpackMs'>): ActivationPhases {
  return { resolveMs: pull.resolveMs, pullMs: pull.pullMs, unpackMs: pull.unpackMs, ...rest };
}

export class Instance {
  private stopping: Promise<void> | undefined;

  constructor(
    readonly info: InstanceInfo,
    private readonly parts: InstanceParts,
    private readonly stopGraceMs: number,
  ) {
    void parts.process.exited.then((exit) => {
      this.info.exit = exit;
      if (this.info.state === 'running') this.info.state = 'exited';
    });
  }

  get exited(): Promise<unknown> {
    return this.parts.process.exited;
  }

  handleMcp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return this.parts.handleMcp(req, res);
  }

  logs(): string {
    return this.parts.logs();
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.info.state === 'running') this.info.state = 'stopping';
      try {
        await this.parts.process.stop(this.stopGraceMs);
      } finally {
        await this.parts.teardown();
      }
    })();
    return this.stopping;
  }
}

/**
 * Named MCP servers with a replica count, kept as activations from the pool: start (0 -> 1 and
 * wait until ready), stop (to 0), scale (0..maxReplicas). Every operation is idempotent; a
 * server's status says whether it is running, stopped, pending or scaling.
 */
import { McpWarmError } from '../errors.js';

export const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export interface ServerDefinition {
  name: string;
  image: string;
}

export type ServerState = 'running' | 'stopped' | 'scaling' | 'pending';

export interface ServerStatus<A> {
  name: string;
  image: string;
  status: ServerState;
  replicas: number;
  readyReplicas: number;
  activations: A[];
}

export interface ReplicaOps<A> {
  /** Activates one replica of the server (resolves once it answered initialize). */
  start(server: ServerDefinition): Promise<A>;
  /** Ends one replica; `force` skips the graceful stop. */
  stop(activation: A, force: boolean): Promise<void>;
}

interface Server<A> {
  definition: ServerDefinition;
  desired: number;
  ready: A[];
  starting: number;
  /** The latest scale operation, which every caller of that operation awaits. */
  settling: Promise<void>;
}

export function checkServerName(name: string): void {
  if (!DNS_1123_LABEL.test(name)) {
    throw new McpWarmError('REQUEST_INVALID', `server name ${JSON.stringify(name)} is not a DNS-1123 label`, {
      details: { problems: [{ field: 'name', message: 'expected [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters' }] },
    });
  }
}

export class ServerLifecycle<A> {
  private readonly servers = new Map<string, Server<A>>();

  constructor(
    definitions: readonly ServerDefinition[],
    private readonly ops: ReplicaOps<A>,
    private readonly maxReplicas = 10,
  ) {
    for (const definition of definitions) {
      checkServerName(definition.name);
      this.servers.set(definition.name, { definition, desired: 0, ready: [], starting: 0, settling: Promise.resolve() });
    }
  }

  list(): Array<ServerStatus<A>> {
    return [...this.servers.keys()].map((name) => this.status(name));
  }

  status(name: string): ServerStatus<A> {
    const server = this.get(name);
    const ready = server.ready.length;
    const status: ServerState =
      server.desired === 0 && ready === 0 && server.starting === 0 ? 'stopped'
      : ready === server.desired && server.starting === 0 ? 'running'
      : ready === 0 ? 'pending'
      : 'scaling';
    return { name, image: server.definition.image, status, replicas: server.desired, readyReplicas: ready, activations: [...server.ready] };
  }

  /** Scales to `replicas` and resolves when that many are ready (or none are left). */
  scale(name: string, replicas: number, force = false): Promise<ServerStatus<A>> {
    const server = this.get(name);
    if (!Number.isInteger(replicas) || replicas < 0 || replicas > this.maxReplicas) {
      throw new McpWarmError('REQUEST_INVALID', `replicas must be a whole number from 0 to ${this.maxReplicas}`, {
        details: { problems: [{ field: 'replicas', message: `expected 0..${this.maxReplicas}` }] },
      });
    }
    server.desired = replicas;
    // Operations on one server run one after another, each converging on the latest desired count.
    server.settling = server.settling.catch(() => undefined).then(() => this.converge(server, force));
    return server.settling.then(() => this.status(name));
  }

  start(name: string): Promise<ServerStatus<A>> {
    const server = this.get(name);
    return this.scale(name, Math.max(1, server.desired));
  }

  stop(name: string, force = false): Promise<ServerStatus<A>> {
    return this.scale(name, 0, force);
  }

  /** Takes back a replica an earlier controller started; false when no server has that name. */
  adopt(name: string, activation: A): boolean {
    const server = this.servers.get(name);
    if (!server) return false;
    server.ready.push(activation);
    server.desired = Math.max(server.desired, server.ready.length);
    return true;
  }

  /**
   * Drops a replica that ended on its own (server exited, runner lost, lease lapsed): the status
   * shows it missing. It is not restarted by itself, so a server that keeps exiting cannot make
   * the pool churn runners; start or scale makes a new one.
   */
  forget(activation: A): boolean {
    for (const server of this.servers.values()) {
      const at = server.ready.indexOf(activation);
      if (at < 0) continue;
      server.ready.splice(at, 1);
      return true;
    }
    return false;
  }

  private async converge(server: Server<A>, force: boolean): Promise<void> {
    const surplus = server.ready.splice(server.desired);
    await Promise.all(surplus.map((activation) => this.ops.stop(activation, force)));
    const missing = server.desired - server.ready.length;
    server.starting += missing;
    const started = await Promise.allSettled(Array.from({ length: missing }, () => this.ops.start(server.definition)));
    server.starting -= missing;
    for (const result of started) if (result.status === 'fulfilled') server.ready.push(result.value);
    const failure = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure) throw failure.reason;
  }

  private get(name: string): Server<A> {
    const server = this.servers.get(name);
    if (!server) throw new McpWarmError('SERVER_NOT_FOUND', `no MCP server named ${JSON.stringify(name)}`);
    return server;
  }
}

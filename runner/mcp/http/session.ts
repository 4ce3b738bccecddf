/**
 * Client sessions of a Streamable HTTP front: their ids, what their client declared, their
 * standalone GET stream, and what they have in flight. A 2026-07-28 request has no session: it
 * gets a stateless one of its own, which lives as long as the request and keeps no messages.
 * How many sessions may live at once is a policy given from outside.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { JsonObject, JsonRpcId, JsonRpcMessage, JsonRpcResponse } from '../jsonrpc.js';
import type { ClientCall } from './client-call.js';
import type { McpHttpError } from './http-io.js';
import type { MessageSink } from './reply.js';
import { SseStream } from './sse.js';

/** Map key of an id that keeps `1` and `"1"` apart. */
export function idKey(id: JsonRpcId): string {
  return typeof id === 'string' ? `s:${id}` : `n:${id}`;
}

/** A server -> client request sent to this session and not answered yet. */
export interface PendingServerRequest {
  /** Hands the client's answer (with the id the client saw) back to the server that asked. */
  deliver(response: JsonRpcResponse): void;
  /** Where it was sent; the server's cancellation of it goes the same way. */
  readonly sink: MessageSink;
}

/** What the client said about itself: in initialize (2025-11-25) or in each request's _meta (2026-07-28). */
export interface ClientDeclaration {
  clientInfo?: JsonObject;
  capabilities: JsonObject;
  protocolVersion?: string;
}

/** Server messages kept for a session while it has no GET stream open. */
const DEFAULT_BACKLOG_MESSAGES = 256;

export class McpSession implements MessageSink {
  /** Its requests not answered yet (queued or at a backend), by idKey of the client's id. */
  readonly calls = new Map<string, ClientCall>();
  /** Server -> client requests sent to this client and not answered yet, by idKey of the id the client saw. */
  readonly serverRequests = new Map<string, PendingServerRequest>();
  /** True until initialize is answered: a session still being opened is never idle. */
  opening = true;
  private stream: SseStream | undefined;
  private backlog: JsonRpcMessage[] = [];
  private lastActiveMs = Date.now();

  constructor(
    /** The Mcp-Session-Id; empty for a stateless (2026-07-28) request's session. */
    readonly id: string,
    readonly client: ClientDeclaration,
    private readonly backlogLimit: number = DEFAULT_BACKLOG_MESSAGES,
    /** For a stateless request: the value of the front's key header, when it has one. */
    readonly key?: string,
  ) {}

  /** The session of one 2026-07-28 request: no id, no GET stream, nothing kept for later. */
  static stateless(client: ClientDeclaration, key?: string): McpSession {
    return new McpSession('', client, 0, key);
  }

  get stateless(): boolean {
    return this.id === '';
  }

  get hasStream(): boolean {
    return this.stream?.open ?? false;
  }

  /** Notes that the client used the session (any request carrying its id). */
  touch(): void {
    this.lastActiveMs = Date.now();
  }

  /**
   * Idle: nothing in flight either way and no request for `idleMs`. Whether an open GET stream
   * keeps a session alive is the caller's choice: a client that vanished while its stream stays
   * open would otherwise hold the session (and its backend) forever.
   */
  idleFor(idleMs: number, nowMs: number, streamKeepsAlive: boolean): boolean {
    if (this.opening || (streamKeepsAlive && this.hasStream)) return false;
    return this.calls.size === 0 && this.serverRequests.size === 0 && nowMs - this.lastActiveMs >= idleMs;
  }

  /** Opens the standalone GET stream (one at a time); messages that waited for it go out first. */
  openStream(res: ServerResponse, conflict: () => McpHttpError): void {
    if (this.hasStream) throw conflict();
    this.stream = new SseStream(res);
    for (const message of this.backlog.splice(0)) this.stream.send(message);
  }

  /** A message not tied to a request: on the GET stream, or kept until one opens (the oldest dropped beyond the limit). */
  send(message: JsonRpcMessage): void {
    if (this.stream?.open) {
      this.stream.send(message);
      return;
    }
    if (this.backlogLimit === 0) return;
    this.backlog.push(message);
    if (this.backlog.length > this.backlogLimit) this.backlog.shift();
  }

  /** Closes the GET stream and forgets what waited for one. */
  end(): void {
    this.stream?.end();
    this.backlog = [];
  }
}

/** Why a new session is refused while `liveSessions` are open (the error answered), or undefined to admit it. */
export type SessionAdmission = (liveSessions: number, requestId: JsonRpcId) => McpHttpError | undefined;

export class SessionTable implements Iterable<McpSession> {
  private readonly sessions = new Map<string, McpSession>();

  constructor(private readonly admission: SessionAdmission) {}

  get size(): number {
    return this.sessions.size;
  }

  /** A new session with a random id (32 URL-safe base64 characters), if the policy admits one. */
  open(requestId: JsonRpcId, client: ClientDeclaration): McpSession {
    const refusal = this.admission(this.sessions.size, requestId);
    if (refusal !== undefined) throw refusal;
    const session = new McpSession(randomBytes(24).toString('base64url'), client);
    this.sessions.set(session.id, session);
    return session;
  }

  get(id: string): McpSession | undefined {
    const session = this.sessions.get(id);
    session?.touch();
    return session;
  }

  /** Sessions idle for at least `idleMs` (their client went away without DELETE, or stopped talking). */
  idle(idleMs: number, streamKeepsAlive: boolean, nowMs = Date.now()): McpSession[] {
    return [...this.sessions.values()].filter((session) => session.idleFor(idleMs, nowMs, streamKeepsAlive));
  }

  has(session: McpSession): boolean {
    return this.sessions.get(session.id) === session;
  }

  /** False when the session was not in the table (already removed). */
  remove(session: McpSession): boolean {
    return this.sessions.delete(session.id);
  }

  [Symbol.iterator](): Iterator<McpSession> {
    return this.sessions.values();
  }
}

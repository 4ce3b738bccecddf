/**
 * Client sessions of a Streamable HTTP endpoint: their ids, their standalone GET stream, and what
 * they have in flight. How many sessions may live at once is a policy given from outside.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { JsonRpcId, JsonRpcMessage } from '../jsonrpc.js';
import { McpHttpError } from './http-io.js';
import type { MessageSink, RequestReply } from './reply.js';
import { SseStream } from './sse.js';

/** Map key of an id that keeps `1` and `"1"` apart. */
export function idKey(id: JsonRpcId): string {
  return typeof id === 'string' ? `s:${id}` : `n:${id}`;
}

export interface InFlightRequest {
  readonly session: McpSession;
  /** The id the backend knows the request by. */
  readonly backendId: number;
  /** The id the client sent, restored on the answer. */
  readonly clientId: JsonRpcId;
  /** The client's `_meta.progressToken`, restored on the progress notifications forwarded to it. */
  readonly clientProgressToken: string | number | undefined;
  readonly reply: RequestReply;
}

export interface PendingServerRequest {
  readonly id: JsonRpcId;
  /** Where it was sent; the server's cancellation of it goes the same way. */
  readonly sink: MessageSink;
}

/** Server messages kept for a session while it has no GET stream open. */
const DEFAULT_BACKLOG_MESSAGES = 256;

export class McpSession implements MessageSink {
  /** Its requests the backend has not answered yet, by idKey of the client's id. */
  readonly inFlight = new Map<string, InFlightRequest>();
  /** Server -> client requests sent to this client and not answered yet, by idKey. */
  readonly serverRequests = new Map<string, PendingServerRequest>();
  private stream: SseStream | undefined;
  private backlog: JsonRpcMessage[] = [];
  private lastActiveMs = Date.now();

  constructor(
    readonly id: string,
    private readonly backlogLimit: number = DEFAULT_BACKLOG_MESSAGES,
  ) {}

  get hasStream(): boolean {
    return this.stream?.open ?? false;
  }

  /** Notes that the client used the session (any request carrying its id). */
  touch(): void {
    this.lastActiveMs = Date.now();
  }

  /** Idle: nothing in flight either way, no GET stream open, no request for `idleMs`. */
  idleFor(idleMs: number, nowMs: number): boolean {
    return this.inFlight.size === 0 && this.serverRequests.size === 0 && !this.hasStream && nowMs - this.lastActiveMs >= idleMs;
  }

  /** Opens the standalone GET stream (one at a time); messages that waited for it go out first. */
  openStream(res: ServerResponse): void {
    if (this.hasStream) {
      throw new McpHttpError(409, 'SESSION_CONFLICT', 'this session already has an open GET stream', {
        hint: 'A session has one standalone stream at a time; close the open one first.',
      });
    }
    this.stream = new SseStream(res);
    for (const message of this.backlog.splice(0)) this.stream.send(message);
  }

  /** A message not tied to a request: on the GET stream, or kept until one opens (the oldest dropped beyond the limit). */
  send(message: JsonRpcMessage): void {
    if (this.stream?.open) {
      this.stream.send(message);
      return;
    }
    this.backlog.push(message);
    if (this.backlog.length > this.backlogLimit) this.backlog.shift();
  }

  /** Closes the GET stream and forgets what waited for one. */
  end(): void {
    this.stream?.end();
    this.backlog = [];
  }
}

export interface SessionPolicy {
  /** Why a new session is refused while `liveSessions` are open, or undefined to admit it. */
  refusal(liveSessions: number): string | undefined;
}

export function maxSessionsPolicy(maxSessions: number): SessionPolicy {
  return {
    refusal: (liveSessions) =>
      liveSessions >= maxSessions ? `this MCP endpoint takes ${maxSessions} client session${maxSessions === 1 ? '' : 's'} at a time` : undefined,
  };
}

export class SessionTable implements Iterable<McpSession> {
  private readonly sessions = new Map<string, McpSession>();

  constructor(private readonly policy: SessionPolicy) {}

  get size(): number {
    return this.sessions.size;
  }

  /** A new session with a random id (32 URL-safe base64 characters), if the policy admits one. */
  open(requestId: JsonRpcId): McpSession {
    const refusal = this.policy.refusal(this.sessions.size);
    if (refusal !== undefined) throw new McpHttpError(409, 'SESSION_CONFLICT', refusal, { id: requestId });
    const session = new McpSession(randomBytes(24).toString('base64url'));
    this.sessions.set(session.id, session);
    return session;
  }

  get(id: string): McpSession | undefined {
    const session = this.sessions.get(id);
    session?.touch();
    return session;
  }

  /** Sessions idle for at least `idleMs` (their client went away without DELETE, or stopped talking). */
  idle(idleMs: number, nowMs = Date.now()): McpSession[] {
    return [...this.sessions.values()].filter((session) => session.idleFor(idleMs, nowMs));
  }

  remove(session: McpSession): void {
    this.sessions.delete(session.id);
  }

  [Symbol.iterator](): Iterator<McpSession> {
    return this.sessions.values();
  }
}

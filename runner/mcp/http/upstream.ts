/**
 * What stands behind a Streamable HTTP front: one initialized server (the agent's instance), or a
 * proxy strategy's backends. The front speaks HTTP and MCP's two revisions; the upstream decides
 * where and when each request runs.
 */
import type { JsonObject, JsonRpcId, JsonRpcNotification } from '../jsonrpc.js';
import type { ClientCall } from './client-call.js';
import type { McpHttpError } from './http-io.js';
import type { ListenFilter } from './listen-filter.js';
import type { ListenStream } from './listen-stream.js';
import type { McpSession } from './session.js';

export interface McpUpstream {
  /**
   * The error a new request gets while it cannot be taken (the server exited, the queue is full),
   * else undefined. `session` is the requester, when the request is one to forward.
   */
  refusal(id: JsonRpcId | null, session?: McpSession): McpHttpError | undefined;
  /** The initialize result a new session (already in the table) is answered with. */
  openSession(session: McpSession): Promise<JsonObject>;
  /** Takes a client request: queued, refused or forwarded as the upstream decides; the call gets the answer. */
  submit(call: ClientCall): void;
  /** A client notification other than initialized and cancelled. */
  notify(session: McpSession, notification: JsonRpcNotification): void;
  /** The session ended (its calls were abandoned first): what it holds on the servers is given up. */
  endSession(session: McpSession, reason: string): Promise<void>;
  /** The initialize result of the server, which server/discover reports. */
  discover(session: McpSession): Promise<JsonObject>;
  /** Starts a listen stream: subscribes what it asks for and resolves with the part agreed. */
  listen(stream: ListenStream, session: McpSession): Promise<ListenFilter>;
  /** The listen stream ended. */
  unlisten(stream: ListenStream): void;
}

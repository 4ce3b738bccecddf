/**
 * Where the proxy's backends come from: one interface, one folder per implementation. A backend
 * is one MCP server, started and initialized, reached through a BackendChannel: a local stdio
 * child (stdio/), or an activation on the pool controller spoken to over Streamable HTTP (pool/).
 */
import type { BackendChannel } from '../../mcp/http/backend-channel.js';
import type { ClientDeclaration } from '../../mcp/http/session.js';
import type { JsonObject } from '../../mcp/jsonrpc.js';

export interface BackendStartOptions {
  /** The client a backend of its own is for: its capabilities and clientInfo go into the server's initialize. */
  client?: ClientDeclaration;
}

export interface RunningBackend {
  readonly channel: BackendChannel;
  /** The server's answer to initialize. */
  readonly initializeResult: JsonObject;
  /** What it is, for logs (a pid, an activation id). */
  readonly label: string;
  /** Ends it and resolves once it is gone; safe to call more than once. */
  stop(): Promise<void>;
}

export interface BackendSource {
  /** What the backends are, for /health and logs. */
  readonly description: string;
  /** Starts and initializes a backend; a failure is a coded error and leaves nothing running. */
  start(options?: BackendStartOptions): Promise<RunningBackend>;
}

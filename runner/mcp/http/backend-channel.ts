/**
 * A JSON-RPC message channel to one initialized MCP server, as the HTTP front needs it. A stdio
 * server's StdioMcpConnection is one; a server reached over Streamable HTTP (a pool activation)
 * is another. Messages the server sends that answer nothing the channel itself asked come out as
 * 'message' events; 'close' says the server is gone, with the reason as the error's message.
 */
import type { JsonObject, JsonRpcMessage } from '../jsonrpc.js';

export interface BackendChannel {
  /** Set once the channel has ended; its message says why. */
  readonly closed: Error | undefined;
  on(event: 'message', listener: (message: JsonRpcMessage) => void): void;
  on(event: 'close', listener: (error: Error) => void): void;
  off(event: 'message', listener: (message: JsonRpcMessage) => void): void;
  off(event: 'close', listener: (error: Error) => void): void;
  /** An id no other message on this channel uses, for a request forwarded with send(). */
  reserveId(): number;
  /** Writes one message; throws once the channel has ended. */
  send(message: JsonRpcMessage): void;
  notify(method: string, params?: JsonObject): void;
  /**
   * The channel's own request: resolves with the result (a JSON-RPC error rejects); its answer
   * never comes out as a 'message'. A timeout or abort sends notifications/cancelled for it.
   */
  request(method: string, params?: JsonObject, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<unknown>;
}

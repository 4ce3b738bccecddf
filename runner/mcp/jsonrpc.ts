/** JSON-RPC 2.0 message shapes as MCP uses them, and a validator for untrusted input. */

/** MCP ids are strings or numbers, never null; `1` and `"1"` are different ids. */
export type JsonRpcId = string | number;
export type JsonObject = Record<string, unknown>;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: JsonObject;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: JsonObject;
}

export interface JsonRpcResult {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result: unknown;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export interface JsonRpcErrorResponse {
  jsonrpc: '2.0';
  /** null only when the peer could not read the id of the message it answers. */
  id: JsonRpcId | null;
  error: JsonRpcErrorObject;
}

export type JsonRpcResponse = JsonRpcResult | JsonRpcErrorResponse;
export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

export const JSONRPC_ERROR = {
  parse: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internal: -32603,
  /** Start of the implementation-defined server error range (-32000 to -32099). */
  server: -32000,
} as const;

/** A JSON-RPC error answer, as a rejection of the request it answers. */
export class JsonRpcResponseError extends Error {
  readonly code: number;
  readonly data: unknown;

  constructor(error: JsonRpcErrorObject) {
    super(error.message);
    this.name = 'JsonRpcResponseError';
    this.code = error.code;
    this.data = error.data;
  }
}

export function isRequest(message: JsonRpcMessage): message is JsonRpcRequest {
  return 'method' in message && 'id' in message;
}

export function isNotification(message: JsonRpcMessage): message is JsonRpcNotification {
  return 'method' in message && !('id' in message);
}

export function isResponse(message: JsonRpcMessage): message is JsonRpcResponse {
  return !('method' in message);
}

export function isErrorResponse(message: JsonRpcMessage): message is JsonRpcErrorResponse {
  return 'error' in message && !('method' in message);
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Also the type of MCP progress tokens. */
export function isJsonRpcId(value: unknown): value is JsonRpcId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

/**
 * The value as a JSON-RPC 2.0 message, or the reason it is not one. Checks only the envelope;
 * MCP-level shapes (what a result holds) are the business of whoever reads them.
 */
export function toJsonRpcMessage(value: unknown): JsonRpcMessage | string {
  if (!isJsonObject(value)) return Array.isArray(value) ? 'a JSON array (batch), not a single message' : 'not a JSON object';
  if (value.jsonrpc !== '2.0') return 'jsonrpc is not "2.0"';
  if ('method' in value) {
    if (typeof value.method !== 'string') return 'method is not a string';
    if (value.params !== undefined && !isJsonObject(value.params)) return 'params is not an object';
    if ('result' in value || 'error' in value) return 'a request or notification with result or error';
    if (!('id' in value)) return value as unknown as JsonRpcNotification;
    return isJsonRpcId(value.id) ? (value as unknown as JsonRpcRequest) : 'id is not a string or a number';
  }
  if ('result' in value) {
    if ('error' in value) return 'a response with both result and error';
    return isJsonRpcId(value.id) ? (value as unknown as JsonRpcResult) : 'id is not a string or a number';
  }
  if ('error' in value) {
    const error = value.error;
    if (!isJsonObject(error) || !Number.isInteger(error.code) || typeof error.message !== 'string') {
      return 'error is not an object with an integer code and a string message';
    }
    return isJsonRpcId(value.id) || value.id === null ? (value as unknown as JsonRpcErrorResponse) : 'id is not a string, a number or null';
  }
  return 'neither a request, a notification nor a response';
}

export function errorResponse(id: JsonRpcId | null, code: number, message: string, data?: unknown): JsonRpcErrorResponse {
  return data === undefined ? { jsonrpc: '2.0', id, error: { code, message } } : { jsonrpc: '2.0', id, error: { code, message, data } };
}

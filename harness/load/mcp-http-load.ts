/**
 * One JSON-RPC call as raw MCP Streamable HTTP, for load generators that write HTTP themselves
 * (autocannon): the POST body with a given id and the headers, in either revision, and the check of
 * an answer. Pure.
 *
 * - 2025-11-25 (sessions): the session opened beforehand is named in Mcp-Session-Id, and
 *   MCP-Protocol-Version names the revision it agreed.
 * - 2026-07-28 (stateless): every POST stands alone: `_meta` carries the protocol version and the
 *   client's capabilities, and the headers repeat the version, the method and the tool name.
 */
import { LATEST_PROTOCOL_VERSION } from '../../runner/mcp/initialize.js';
import { META_KEYS, STATELESS_PROTOCOL_VERSION } from '../../runner/mcp/http/revision.js';
import { isJsonObject, type JsonObject, type JsonRpcId } from '../../runner/mcp/jsonrpc.js';

export const MCP_REVISIONS = [LATEST_PROTOCOL_VERSION, STATELESS_PROTOCOL_VERSION] as const;

export interface McpCall {
  method: string;
  params?: JsonObject;
}

/** How requests reach the server: a session (its id and agreed version), or the stateless revision. */
export type McpHttpAddressing = { revision: typeof LATEST_PROTOCOL_VERSION; sessionId: string; protocolVersion: string } | { revision: typeof STATELESS_PROTOCOL_VERSION };

/** How the harness's MCP clients (SDK, lean and raw HTTP alike) name themselves at initialize. */
export const BENCH_CLIENT_INFO = { name: 'mcpwarm-bench', version: '1.0.0' };

/** The headers every request of a call carries (`token`: a bearer token for the gateway). */
export function callHeaders(call: McpCall, addressing: McpHttpAddressing, token?: string): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (addressing.revision === STATELESS_PROTOCOL_VERSION) {
    headers['mcp-protocol-version'] = STATELESS_PROTOCOL_VERSION;
    headers['mcp-method'] = call.method;
    const name = call.params?.name ?? call.params?.uri;
    if (typeof name === 'string') headers['mcp-name'] = name;
  } else {
    headers['mcp-protocol-version'] = addressing.protocolVersion;
    headers['mcp-session-id'] = addressing.sessionId;
  }
  return headers;
}

/** Makes request bodies of one call, differing only in their id (the rest is serialized once). */
export function callBodies(call: McpCall, addressing: McpHttpAddressing): (id: number) => string {
  const params =
    addressing.revision === STATELESS_PROTOCOL_VERSION
      ? {
          ...call.params,
          _meta: { ...(isJsonObject(call.params?._meta) ? call.params._meta : {}), [META_KEYS.protocolVersion]: STATELESS_PROTOCOL_VERSION, [META_KEYS.clientCapabilities]: {}, [META_KEYS.clientInfo]: BENCH_CLIENT_INFO },
        }
      : call.params;
  // `{"method":...}` without its opening brace, after the id.
  const rest = JSON.stringify({ method: call.method, ...(params !== undefined ? { params } : {}) }).slice(1);
  return (id) => `{"jsonrpc":"2.0","id":${id},${rest}`;
}

/** The JSON-RPC messages of an answer body: JSON (one message or a batch), or the data of an SSE stream. */
export function answerMessages(body: string): unknown[] {
  const trimmed = body.trimStart();
  const texts = trimmed.startsWith('{') || trimmed.startsWith('[')
    ? [trimmed]
    : body
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5));
  return texts.flatMap((text) => {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value : [value];
  });
}

/**
 * Why an answer is not the JSON-RPC result of a request this client sent (`expected` says whether
 * an id is one still waiting for its answer), or undefined when it is: `HTTP_<status>` for a
 * non-2xx status, `JSONRPC_<code>` for an error answer (also with a 200), `BAD_ANSWER` for a body
 * with no JSON-RPC response in it, `UNEXPECTED_ID` for the answer to another request.
 */
export function answerProblem(status: number, body: string, expected: (id: JsonRpcId) => boolean): string | undefined {
  if (status < 200 || status > 299) return `HTTP_${status}`;
  let messages: unknown[];
  try {
    messages = answerMessages(body);
  } catch {
    return 'BAD_ANSWER';
  }
  const response = messages.find((m): m is JsonObject => isJsonObject(m) && ('result' in m || 'error' in m));
  if (response === undefined || response.jsonrpc !== '2.0') return 'BAD_ANSWER';
  if ('error' in response) return `JSONRPC_${isJsonObject(response.error) && typeof response.error.code === 'number' ? response.error.code : 'ERROR'}`;
  const id = response.id;
  return (typeof id === 'number' || typeof id === 'string') && expected(id) ? undefined : 'UNEXPECTED_ID';
}

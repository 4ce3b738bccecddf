/**
 * Which MCP revision a POST speaks, and the rules of the stateless one (2026-07-28): every request
 * carries its protocol version and the client's capabilities in `_meta`; the MCP-Protocol-Version
 * header must name the same version, Mcp-Method the body's method and Mcp-Name its tool, prompt
 * or resource (HeaderMismatch, -32001, otherwise). A POST with neither that header value nor a
 * `_meta` version speaks the session revisions (2025-11-25 and older).
 */
import { KNOWN_PROTOCOL_VERSIONS } from '../initialize.js';
import { isJsonObject, isRequest, isResponse, JSONRPC_ERROR, type JsonObject, type JsonRpcMessage, type JsonRpcRequest, type JsonRpcResponse } from '../jsonrpc.js';
import { McpHttpError } from './http-io.js';
import type { ClientDeclaration } from './session.js';

export const STATELESS_PROTOCOL_VERSION = '2026-07-28';

export const META_KEYS = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  subscriptionId: 'io.modelcontextprotocol/subscriptionId',
} as const;

/** Every revision a client may name in MCP-Protocol-Version. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[] = [STATELESS_PROTOCOL_VERSION, ...KNOWN_PROTOCOL_VERSIONS];

export const RPC_HEADER_MISMATCH = -32001;
export const RPC_UNSUPPORTED_PROTOCOL_VERSION = -32004;

/** Methods of the session revisions that 2026-07-28 removed. */
const REMOVED_METHODS: readonly string[] = ['initialize', 'ping', 'logging/setLevel', 'resources/subscribe', 'resources/unsubscribe'];

export interface RevisionHeaders {
  protocolVersion?: string | undefined;
  method?: string | undefined;
  name?: string | undefined;
}

export type Revision = { kind: 'sessions' } | { kind: 'stateless'; client: ClientDeclaration };

function metaOf(message: JsonRpcMessage): JsonObject | undefined {
  if (isResponse(message)) return undefined;
  const meta = message.params?._meta;
  return isJsonObject(meta) ? meta : undefined;
}

function mismatch(message: string, id: JsonRpcRequest['id'] | null): McpHttpError {
  return new McpHttpError(400, 'REQUEST_INVALID', `HeaderMismatch: ${message}`, { rpcCode: RPC_HEADER_MISMATCH, id });
}

/** What Mcp-Name must say for a message: the tool or prompt name, or the resource URI. */
function nameOf(message: JsonRpcMessage): string | undefined {
  if (isResponse(message)) return undefined;
  const params = message.params;
  if (typeof params?.name === 'string') return params.name;
  return typeof params?.uri === 'string' ? params.uri : undefined;
}

/** The revision of a POSTed message; throws the 400 answer when its headers and `_meta` disagree. */
export function revisionOf(headers: RevisionHeaders, message: JsonRpcMessage): Revision {
  const id = isRequest(message) ? message.id : null;
  const meta = metaOf(message);
  const metaVersion = meta?.[META_KEYS.protocolVersion];
  if (metaVersion === undefined && headers.protocolVersion !== STATELESS_PROTOCOL_VERSION) return { kind: 'sessions' };
  if (metaVersion === undefined) throw mismatch(`MCP-Protocol-Version is ${STATELESS_PROTOCOL_VERSION} but params._meta has no ${META_KEYS.protocolVersion}`, id);
  if (typeof metaVersion !== 'string' || metaVersion !== headers.protocolVersion) {
    throw mismatch(`the MCP-Protocol-Version header (${JSON.stringify(headers.protocolVersion ?? null)}) does not match params._meta (${JSON.stringify(metaVersion)})`, id);
  }
  if (metaVersion !== STATELESS_PROTOCOL_VERSION) {
    if (KNOWN_PROTOCOL_VERSIONS.includes(metaVersion)) return { kind: 'sessions' };
    throw new McpHttpError(400, 'REQUEST_INVALID', `UnsupportedProtocolVersion: ${metaVersion}; supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}`, {
      rpcCode: RPC_UNSUPPORTED_PROTOCOL_VERSION,
      id,
    });
  }
  if (isResponse(message)) throw new McpHttpError(400, 'REQUEST_INVALID', `${STATELESS_PROTOCOL_VERSION} has no server -> client requests to answer`, { rpcCode: JSONRPC_ERROR.invalidRequest });
  if (headers.method !== message.method) throw mismatch(`Mcp-Method (${JSON.stringify(headers.method ?? null)}) does not match the body's method ${JSON.stringify(message.method)}`, id);
  const name = nameOf(message);
  if (name !== undefined && headers.name !== name) throw mismatch(`Mcp-Name (${JSON.stringify(headers.name ?? null)}) does not match the body (${JSON.stringify(name)})`, id);
  const capabilities = meta![META_KEYS.clientCapabilities];
  const clientInfo = meta![META_KEYS.clientInfo];
  if (!isJsonObject(capabilities) || (clientInfo !== undefined && !isJsonObject(clientInfo))) {
    throw new McpHttpError(400, 'REQUEST_INVALID', `params._meta needs ${META_KEYS.clientCapabilities} (an object), and ${META_KEYS.clientInfo} when given must be an object`, {
      rpcCode: JSONRPC_ERROR.invalidParams,
      id,
    });
  }
  return { kind: 'stateless', client: { capabilities, protocolVersion: metaVersion, ...(clientInfo === undefined ? {} : { clientInfo }) } };
}

/** Why a stateless request's method does not exist in 2026-07-28, or undefined. */
export function removedInStateless(method: string): string | undefined {
  return REMOVED_METHODS.includes(method) ? `${method} is not part of MCP ${STATELESS_PROTOCOL_VERSION}` : undefined;
}

/** The request as a session-revision server takes it: the 2026-07-28 `_meta` keys removed (a progress token stays). */
export function forSessionServer(request: JsonRpcRequest): JsonRpcRequest {
  const meta = metaOf(request);
  if (!meta) return request;
  const kept = Object.fromEntries(Object.entries(meta).filter(([key]) => !key.startsWith('io.modelcontextprotocol/')));
  const { _meta: _dropped, ...params } = request.params!;
  return { ...request, params: Object.keys(kept).length > 0 ? { ...params, _meta: kept } : params };
}

/** 2026-07-28 results say what they are; a session-revision server's results are complete ones. */
export function withResultType(response: JsonRpcResponse): JsonRpcResponse {
  if (!('result' in response) || !isJsonObject(response.result) || 'resultType' in response.result) return response;
  return { ...response, result: { resultType: 'complete', ...response.result } };
}

/** The server/discover result for a server whose initialize result is `initializeResult`. */
export function discoverResult(initializeResult: JsonObject): JsonObject {
  const { capabilities, serverInfo, instructions } = initializeResult;
  return {
    resultType: 'complete',
    supportedVersions: [...SUPPORTED_PROTOCOL_VERSIONS],
    capabilities: isJsonObject(capabilities) ? capabilities : {},
    serverInfo,
    ...(typeof instructions === 'string' ? { instructions } : {}),
  };
}

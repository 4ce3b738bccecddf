/**
 * The server side of MCP Streamable HTTP (revision 2025-11-25) in front of one stdio server that
 * the readiness probe has already initialized. Mount `handle` at any path of a node:http server.
 *
 * POST  initialize (no Mcp-Session-Id): opens a session if the policy admits one (else 409) and
 *       answers from the probe's initialize result, with the Mcp-Session-Id header; the server
 *       never sees a second initialize.
 * POST  anything else needs Mcp-Session-Id (missing: 400; unknown or ended: 404). A notification
 *       or a response: 202, no body. A request: forwarded; answered as one SSE stream (its
 *       progress, then its answer) when Accept names text/event-stream, else as application/json.
 * GET   (Accept: text/event-stream): the session's standalone stream for server notifications and
 *       server -> client requests; one at a time (409 for another). It never carries answers.
 * DELETE ends the session (204): its requests in flight are cancelled on the server.
 *
 * A MCP-Protocol-Version header, when sent, must name a known revision (400). Bodies over
 * maxBodyBytes: 413. Not JSON: 400 with a JSON-RPC parse error (-32700). Batches (JSON arrays),
 * which MCP dropped in 2025-06-18: 400 (-32600). Error bodies are JSON-RPC error objects; see
 * http-io.ts. Once the server has exited, requests in flight get a JSON-RPC error (-32000) saying
 * so, streams close, and new POSTs and GETs get 502 (SERVER_EXITED); after close(), 503.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { KNOWN_PROTOCOL_VERSIONS, type Readiness } from '../initialize.js';
import { isJsonRpcId, isNotification, isRequest, JSONRPC_ERROR, toJsonRpcMessage, type JsonRpcId, type JsonRpcRequest } from '../jsonrpc.js';
import type { StdioMcpConnection } from '../stdio-connection.js';
import { BackendRouter } from './backend-router.js';
import { acceptsEventStream, header, McpHttpError, readBody, sendError, sendJson } from './http-io.js';
import { maxSessionsPolicy, SessionTable, type McpSession } from './session.js';

export interface StreamableHttpEndpointOptions {
  /** The server's connection, already initialized by probeReadiness. */
  backend: StdioMcpConnection;
  /** The probe's result: clients' initialize requests are answered with its initializeResult. */
  initialize: Pick<Readiness, 'initializeResult'>;
  maxBodyBytes: number;
  /** How many client sessions may be open at once. */
  maxSessions: number;
  /**
   * A session idle this long (nothing in flight, no GET stream, no request) is ended when a new
   * client needs its place: a client that vanished without DELETE cannot hold an endpoint forever.
   */
  sessionIdleTimeoutMs?: number;
}

export interface StreamableHttpEndpoint {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Ends every session (cancelling what is in flight) and stops listening to the backend, which stays open. */
  close(): Promise<void>;
  readonly sessionCount: number;
}

const DEFAULT_SESSION_IDLE_TIMEOUT_MS = 5 * 60_000;

/** The JSON-RPC code MCP SDK servers answer an unknown session with. */
const SESSION_NOT_FOUND_RPC_CODE = -32001;

function invalid(message: string, id: JsonRpcId | null = null, rpcCode: number = JSONRPC_ERROR.invalidRequest): McpHttpError {
  return new McpHttpError(400, 'REQUEST_INVALID', message, { rpcCode, id });
}

export function createStreamableHttpEndpoint(options: StreamableHttpEndpointOptions): StreamableHttpEndpoint {
  const sessions = new SessionTable(maxSessionsPolicy(options.maxSessions));
  const router = new BackendRouter(options.backend, sessions);
  let closed = false;

  function requireBackend(id: JsonRpcId | null = null): void {
    if (closed) throw new McpHttpError(503, 'SERVER_EXITED', 'this MCP endpoint is closed: the instance is stopping', { id });
    const gone = router.gone;
    if (gone !== undefined) {
      throw new McpHttpError(502, 'SERVER_EXITED', `${gone}; this instance takes no more requests`, {
        id,
        hint: 'The MCP server is no longer running; see its logs and start a new instance.',
      });
    }
  }

  function checkProtocolVersion(req: IncomingMessage): void {
    const version = header(req, 'mcp-protocol-version');
    if (version !== undefined && !KNOWN_PROTOCOL_VERSIONS.includes(version)) {
      throw invalid(`unsupported MCP-Protocol-Version ${JSON.stringify(version)}; known: ${KNOWN_PROTOCOL_VERSIONS.join(', ')}`);
    }
  }

  function requireSession(req: IncomingMessage): McpSession {
    const id = header(req, 'mcp-session-id');
    if (id === undefined) throw invalid('the Mcp-Session-Id header is missing; start a session with initialize first', null, JSONRPC_ERROR.server);
    const session = sessions.get(id);
    if (!session) {
      throw new McpHttpError(404, 'SESSION_NOT_FOUND', 'no session has this Mcp-Session-Id: it ended or never existed', {
        rpcCode: SESSION_NOT_FOUND_RPC_CODE,
      });
    }
    return session;
  }

  function initialize(req: IncomingMessage, res: ServerResponse, request: JsonRpcRequest): void {
    if (header(req, 'mcp-session-id') !== undefined) throw invalid('initialize starts a session: send it without Mcp-Session-Id', request.id);
    requireBackend(request.id);
    for (const idle of sessions.idle(options.sessionIdleTimeoutMs ?? DEFAULT_SESSION_IDLE_TIMEOUT_MS)) end(idle, 'the session was idle');
    const session = sessions.open(request.id);
    sendJson(res, 200, { jsonrpc: '2.0', id: request.id, result: options.initialize.initializeResult }, { 'mcp-session-id': session.id });
  }

  async function post(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, options.maxBodyBytes);
    let value: unknown;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch (error) {
      throw invalid(`Parse error: the body is not JSON (${(error as Error).message})`, null, JSONRPC_ERROR.parse);
    }
    if (Array.isArray(value)) throw invalid('JSON-RPC batches are not supported (MCP removed them in 2025-06-18): POST one message at a time');
    const message = toJsonRpcMessage(value);
    if (typeof message === 'string') {
      const id = (value as { id?: unknown }).id;
      throw invalid(`Invalid Request: ${message}`, isJsonRpcId(id) ? id : null);
    }
    if (isRequest(message) && message.method === 'initialize') return initialize(req, res, message);
    const session = requireSession(req);
    if (isRequest(message)) {
      requireBackend(message.id);
      router.forward(session, message, res, acceptsEventStream(req));
      return;
    }
    requireBackend();
    if (isNotification(message)) router.fromClientNotification(session, message);
    else router.fromClientResponse(session, message);
    res.writeHead(202).end();
  }

  function get(req: IncomingMessage, res: ServerResponse): void {
    if (!acceptsEventStream(req)) throw new McpHttpError(406, 'REQUEST_INVALID', 'GET opens an event stream: send Accept: text/event-stream');
    const session = requireSession(req);
    requireBackend();
    session.openStream(res);
  }

  function end(session: McpSession, reason: string): void {
    sessions.remove(session);
    router.endSession(session, reason);
  }

  return {
    async handle(req, res) {
      try {
        checkProtocolVersion(req);
        if (req.method === 'POST') await post(req, res);
        else if (req.method === 'GET') get(req, res);
        else if (req.method === 'DELETE') {
          end(requireSession(req), 'the client ended its session');
          res.writeHead(204).end();
        } else {
          throw new McpHttpError(405, 'REQUEST_INVALID', `${req.method} is not an MCP Streamable HTTP method: use POST, GET or DELETE`);
        }
      } catch (error) {
        sendError(res, error);
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const session of [...sessions]) end(session, 'the MCP endpoint closed');
      router.detach();
    },

    get sessionCount() {
      return sessions.size;
    },
  };
}

/**
 * HTTP plumbing of the Streamable HTTP endpoint: bounded body reading, header reading, and error
 * answers. Every error answer is a JSON-RPC error object, which MCP clients show as is:
 *   {"jsonrpc":"2.0","id":<the request's id or null>,"error":{"code":<JSON-RPC code>,"message":...,
 *    "data":{"code":<mcpwarm error code>,"hint":...}}}
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { McpWarmError, type ErrorCode } from '../../errors.js';
import { errorResponse, JSONRPC_ERROR, type JsonRpcId } from '../jsonrpc.js';

export interface McpHttpErrorOptions {
  /** The JSON-RPC error code of the body (default: -32000, a transport-level error). */
  rpcCode?: number;
  /** The id of the request being refused, when it could be read. */
  id?: JsonRpcId | null;
  hint?: string;
  /** Extra response headers (Retry-After, Allow). */
  headers?: Record<string, string>;
}

/** A coded error with the HTTP status and JSON-RPC error code it is answered with. */
export class McpHttpError extends McpWarmError {
  readonly rpcCode: number;
  readonly id: JsonRpcId | null;
  readonly headers: Record<string, string>;

  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
    options: McpHttpErrorOptions = {},
  ) {
    super(code, message, options.hint === undefined ? {} : { hint: options.hint });
    this.rpcCode = options.rpcCode ?? JSONRPC_ERROR.server;
    this.id = options.id ?? null;
    this.headers = options.headers ?? {};
  }

  override get httpStatus(): number {
    return this.status;
  }
}

/** The first value of a request header. */
export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** text/event-stream as one media range of an Accept header, parameters allowed. */
const EVENT_STREAM_RANGE = /(?:^|,)[ \t]*text\/event-stream[ \t]*(?:;|,|$)/i;

/** Whether the Accept header names text/event-stream itself (a wildcard alone gets plain JSON). */
export function acceptsEventStream(req: IncomingMessage): boolean {
  const accept = header(req, 'accept');
  return accept !== undefined && EVENT_STREAM_RANGE.test(accept);
}

function tooLarge(maxBytes: number): McpHttpError {
  return new McpHttpError(413, 'REQUEST_TOO_LARGE', `the request body is larger than ${maxBytes} bytes`);
}

/**
 * The whole body, refused as soon as it passes maxBytes. The rest of an oversized body is read
 * and dropped rather than cut off, so the client gets the 413 instead of a reset connection.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (Number(header(req, 'content-length')) > maxBytes) {
      req.resume();
      reject(tooLarge(maxBytes));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    let ended = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      refused = true;
      chunks.length = 0;
      reject(tooLarge(maxBytes));
    });
    req.on('end', () => {
      ended = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    });
    req.on('error', reject);
    // A client that goes away mid-body may end the request with neither 'end' nor 'error'.
    req.on('close', () => {
      if (!ended) reject(new Error('the client closed the connection before the body was complete'));
    });
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Answers an error as a JSON-RPC error object; once a response has started, it can only be ended. */
export function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (error instanceof McpWarmError) {
    const http = error instanceof McpHttpError ? error : undefined;
    const body = errorResponse(http?.id ?? null, http?.rpcCode ?? JSONRPC_ERROR.server, error.message, { code: error.code, hint: error.hint });
    const headers = http?.status === 405 ? { allow: 'GET, POST, DELETE', ...http.headers } : (http?.headers ?? {});
    sendJson(res, error.httpStatus, body, headers);
    return;
  }
  sendJson(res, 500, errorResponse(null, JSONRPC_ERROR.internal, `internal error: ${(error as Error)?.message ?? String(error)}`));
}

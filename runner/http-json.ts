/** JSON over node:http for the agent's and controller's APIs: bounded bodies, coded error answers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERROR_CATALOGUE, McpWarmError, isMcpWarmError, type ErrorCode } from './errors.js';

export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;

/** Reads and parses a JSON body; REQUEST_TOO_LARGE past `maxBytes` (stops reading), REQUEST_INVALID for bad JSON. */
export async function readJsonBody(req: IncomingMessage, maxBytes = DEFAULT_MAX_BODY_BYTES): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new McpWarmError('REQUEST_INVALID', `the body is not JSON: ${(error as Error).message}`, {
      details: { problems: [{ field: '(body)', message: 'expected JSON' }] },
    });
  }
}

function tooLarge(maxBytes: number): McpWarmError {
  return new McpWarmError('REQUEST_TOO_LARGE', `request bodies are limited to ${maxBytes} bytes`, { details: { maxBytes } });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Answers a coded error as `{error: {code, message, hint, details?}}` with the catalogue's status. */
export function sendError(res: ServerResponse, error: unknown): void {
  const coded = isMcpWarmError(error) ? error : new McpWarmError('INTERNAL', error instanceof Error ? error.message : String(error), { cause: error });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // A body left unread (a refused upload) must not keep the connection hanging.
  sendJson(res, coded.httpStatus, { error: coded.toJSON() }, coded.httpStatus === 413 ? { connection: 'close' } : {});
}

/** An `{error: {code, message, hint?, details?}}` answer turned back into the coded error (unknown codes become INTERNAL). */
export function errorFromAnswer(error: { code?: string; message?: string; hint?: string; details?: Record<string, unknown> }, status: number): McpWarmError {
  const code = error.code !== undefined && error.code in ERROR_CATALOGUE ? (error.code as ErrorCode) : 'INTERNAL';
  return new McpWarmError(code, error.message ?? `answered ${status}`, {
    ...(error.hint ? { hint: error.hint } : {}),
    ...(error.details ? { details: error.details } : {}),
  });
}

export interface JsonCall {
  method: string;
  token?: string;
  body?: unknown;
  /** The coded error for a service that does not answer at all, and what to call it in the message. */
  unreachable: { code: ErrorCode; what: string };
}

/** Calls a JSON API of ours; resolves with the status and the parsed body (an empty object when there is none). */
export async function callJson(url: URL, call: JsonCall): Promise<{ status: number; json: any }> {
  const response = await fetch(url, {
    method: call.method,
    headers: {
      ...(call.token ? { authorization: `Bearer ${call.token}` } : {}),
      ...(call.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
  }).catch((error: unknown) => {
    throw new McpWarmError(call.unreachable.code, `${call.unreachable.what} at ${url.origin} is unreachable: ${(error as Error).message}`);
  });
  return { status: response.status, json: await response.json().catch(() => ({})) };
}

/**
 * MCP's stdio framing: one JSON-RPC message per line, UTF-8, lines ended by "\n" (a trailing "\r"
 * is tolerated). Lines are split on the byte 0x0A, which never occurs inside a multi-byte UTF-8
 * sequence, so a character split across chunks is decoded whole.
 */
import { toJsonRpcMessage, type JsonRpcMessage } from './jsonrpc.js';

export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;

/** How much of a bad line an error message quotes. */
const LINE_START_CHARS = 120;

export type DecodedLine =
  | { kind: 'message'; message: JsonRpcMessage }
  /** A line that is not a JSON-RPC 2.0 message, or is longer than the limit. */
  | { kind: 'garbage'; reason: string; lineStart: string };

function lineStart(bytes: Buffer): string {
  return bytes.subarray(0, LINE_START_CHARS * 4).toString('utf8').slice(0, LINE_START_CHARS);
}

function decodeLine(bytes: Buffer): DecodedLine | undefined {
  let text = bytes.toString('utf8');
  if (text.endsWith('\r')) text = text.slice(0, -1);
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'garbage', reason: 'not JSON', lineStart: lineStart(bytes) };
  }
  const message = toJsonRpcMessage(value);
  return typeof message === 'string'
    ? { kind: 'garbage', reason: `not a JSON-RPC 2.0 message: ${message}`, lineStart: lineStart(bytes) }
    : { kind: 'message', message };
}

export class LineDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Inside a line already reported as too long: its bytes are dropped up to the next newline. */
  private discarding = false;

  constructor(readonly maxLineBytes: number = DEFAULT_MAX_LINE_BYTES) {}

  push(chunk: Buffer): DecodedLine[] {
    const decoded: DecodedLine[] = [];
    let start = 0;
    for (let newline = chunk.indexOf(0x0a); newline !== -1; newline = chunk.indexOf(0x0a, start)) {
      this.append(chunk.subarray(start, newline), decoded);
      this.endLine(decoded);
      start = newline + 1;
    }
    if (start < chunk.length) this.append(chunk.subarray(start), decoded);
    return decoded;
  }

  /** The end of the stream: a last line without its newline still counts. */
  end(): DecodedLine[] {
    const decoded: DecodedLine[] = [];
    this.endLine(decoded);
    return decoded;
  }

  private append(part: Buffer, decoded: DecodedLine[]): void {
    if (this.discarding || part.length === 0) return;
    if (this.pendingBytes + part.length > this.maxLineBytes) {
      const start = Buffer.concat([...this.pending, part.subarray(0, LINE_START_CHARS * 4)]);
      decoded.push({ kind: 'garbage', reason: `line longer than ${this.maxLineBytes} bytes`, lineStart: lineStart(start) });
      this.pending = [];
      this.pendingBytes = 0;
      this.discarding = true;
      return;
    }
    this.pending.push(part);
    this.pendingBytes += part.length;
  }

  private endLine(decoded: DecodedLine[]): void {
    // Most lines arrive in one chunk: no copy for those.
    const line = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    if (this.discarding) {
      this.discarding = false;
      return;
    }
    const item = decodeLine(line);
    if (item) decoded.push(item);
  }
}

/** One message as a line. JSON.stringify escapes every newline inside strings, so the line is whole. */
export function encodeMessage(message: JsonRpcMessage): string {
  return `${JSON.stringify(message)}\n`;
}

/**
 * Keeps the last bytes a server wrote on stderr. It reads the stream from the start and never
 * stops, because a server whose stderr pipe fills up (about 64 KiB) blocks in its next write and
 * stops answering.
 */
import type { Readable } from 'node:stream';

export const DEFAULT_STDERR_BUFFER_BYTES = 256 * 1024;

export class StderrBuffer {
  private chunks: Buffer[] = [];
  private retainedBytes = 0;
  private total = 0;

  constructor(
    stream: Readable,
    readonly maxBytes: number = DEFAULT_STDERR_BUFFER_BYTES,
  ) {
    stream.on('data', (chunk: Buffer | string) => this.append(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
    // A read error ends the stream; what was kept stays readable.
    stream.on('error', () => {});
  }

  /** Bytes written since the start, including those no longer kept. */
  get totalBytes(): number {
    return this.total;
  }

  get droppedBytes(): number {
    return this.total - this.retainedBytes;
  }

  /** The kept bytes as text; when older output was dropped, a partial first character is left out. */
  text(): string {
    let bytes = Buffer.concat(this.chunks);
    if (this.droppedBytes > 0) {
      let start = 0;
      while (start < bytes.length && (bytes[start]! & 0xc0) === 0x80) start += 1;
      bytes = bytes.subarray(start);
    }
    return bytes.toString('utf8');
  }

  /** The last `lines` lines (without the final newline), for error messages. */
  tail(lines: number): string {
    if (lines <= 0) return '';
    const text = this.text().replace(/\n$/, '');
    if (text === '') return '';
    return text.split('\n').slice(-lines).join('\n');
  }

  private append(chunk: Buffer): void {
    this.total += chunk.length;
    if (chunk.length >= this.maxBytes) {
      this.chunks = [Buffer.from(chunk.subarray(chunk.length - this.maxBytes))];
      this.retainedBytes = this.maxBytes;
      return;
    }
    this.chunks.push(chunk);
    this.retainedBytes += chunk.length;
    while (this.retainedBytes > this.maxBytes) {
      const excess = this.retainedBytes - this.maxBytes;
      const first = this.chunks[0]!;
      if (first.length <= excess) {
        this.chunks.shift();
        this.retainedBytes -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.retainedBytes -= excess;
      }
    }
  }
}

import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { McpWarmError } from '../errors.js';

const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;

export function isDigest(value: string): boolean {
  return DIGEST_PATTERN.test(value);
}

/** The hex part of a sha256 digest, after checking its form (it becomes a file name). */
export function digestHex(digest: string): string {
  if (!isDigest(digest)) {
    throw new McpWarmError('REF_INVALID', `not a sha256 digest: ${JSON.stringify(digest)}`);
  }
  return digest.slice('sha256:'.length);
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Throws the coded error for content that does not match its descriptor. */
export function verifyContent(bytes: Buffer, expected: { digest: string; size?: number }, what: string): void {
  if (expected.size !== undefined && bytes.length !== expected.size) {
    throw new McpWarmError('BLOB_SIZE_MISMATCH', `${what}: expected ${expected.size} bytes, got ${bytes.length}`, {
      details: { digest: expected.digest, expectedSize: expected.size, actualSize: bytes.length },
    });
  }
  const actual = sha256Digest(bytes);
  if (actual !== expected.digest) {
    throw new McpWarmError('BLOB_DIGEST_MISMATCH', `${what}: expected ${expected.digest}, got ${actual}`, {
      details: { expected: expected.digest, actual },
    });
  }
}

/**
 * A pass-through stream that hashes and counts what flows through it and fails the stream
 * (instead of ending it) when the content does not match the expected digest and size.
 * It fails as soon as more bytes than expected arrive, so an oversized blob is never read whole.
 */
export class DigestVerifier extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private received = 0;

  constructor(
    private readonly expected: { digest: string; size?: number },
    private readonly what: string,
  ) {
    super();
    digestHex(expected.digest);
  }

  get bytesReceived(): number {
    return this.received;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.received += chunk.length;
    if (this.expected.size !== undefined && this.received > this.expected.size) {
      callback(this.sizeError());
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.expected.size !== undefined && this.received !== this.expected.size) {
      callback(this.sizeError());
      return;
    }
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (actual !== this.expected.digest) {
      callback(
        new McpWarmError('BLOB_DIGEST_MISMATCH', `${this.what}: expected ${this.expected.digest}, got ${actual}`, {
          details: { expected: this.expected.digest, actual },
        }),
      );
      return;
    }
    callback();
  }

  private sizeError(): McpWarmError {
    return new McpWarmError(
      'BLOB_SIZE_MISMATCH',
      `${this.what}: expected ${this.expected.size} bytes, received ${this.received}${this.received > (this.expected.size ?? 0) ? ' (more than expected)' : ''}`,
      { details: { digest: this.expected.digest, expectedSize: this.expected.size, actualSize: this.received } },
    );
  }
}

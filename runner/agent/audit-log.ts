/** One JSON line per activation, prefetch, deletion and refusal: who asked, for what, and what came of it. */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { isMcpWarmError } from '../errors.js';

export interface AuditRecord {
  action: 'activate' | 'prefetch' | 'delete' | 'refuse';
  /** Remote address and port of the caller. */
  caller: string;
  result: 'ok' | 'error';
  image?: string;
  digest?: string;
  instanceId?: string;
  /** Error code when result is "error". */
  code?: string;
  totalMs?: number;
}

/** The record of an activation or prefetch that failed: a refusal when the allowlist refused the image. */
export function failureRecord(action: 'activate' | 'prefetch', caller: string, image: string | undefined, error: unknown): AuditRecord & { code: string } {
  const code = isMcpWarmError(error) ? error.code : 'INTERNAL';
  return { action: code === 'IMAGE_NOT_ALLOWED' ? 'refuse' : action, caller, result: 'error', ...(image ? { image } : {}), code };
}

export class AuditLog {
  private constructor(private readonly stream: WriteStream | undefined) {}

  /** An audit log appending to `path`, or one that records nothing when no path is given. */
  static open(path: string | undefined): AuditLog {
    return new AuditLog(path === undefined ? undefined : createWriteStream(path, { flags: 'a', mode: 0o600 }));
  }

  write(record: AuditRecord): void {
    this.stream?.write(`${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  }

  async close(): Promise<void> {
    if (!this.stream) return;
    this.stream.end();
    await once(this.stream, 'close');
  }
}

/** One JSON line per activation, deletion and refusal: who asked, for what, and what came of it. */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';

export interface AuditRecord {
  action: 'activate' | 'delete' | 'refuse';
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

/**
 * Unpacks layers on worker threads. On the main thread, downloading, hashing, tar parsing and
 * file writes of all layers would share one core; with one worker per core, the layers of an
 * image decompress and unpack in parallel, and the main thread only moves verified bytes.
 *
 * Flow control: the main side keeps at most IN_FLIGHT_LIMIT bytes sent but not yet taken by the
 * worker's decompressor, so a slow disk slows the download instead of filling memory.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { ERROR_CATALOGUE, McpWarmError, type ErrorCode } from '../errors.js';
import type { LayerContents, UnpackOptions } from './unpack.js';

export interface WorkerTask {
  id: number;
  dir: string;
  mediaType: string;
  options: UnpackOptions;
}

export type ToWorker =
  | { type: 'task'; task: WorkerTask }
  | { type: 'chunk'; id: number; data: Uint8Array }
  | { type: 'end'; id: number }
  | { type: 'abort'; id: number; reason: string };

export type FromWorker =
  | { type: 'ack'; id: number; bytes: number }
  | { type: 'done'; id: number; contents: LayerContents }
  | { type: 'failed'; id: number; error: { code?: ErrorCode; message: string; details?: Record<string, unknown> } };

const IN_FLIGHT_LIMIT = 8 * 2 ** 20;
const BATCH_BYTES = 2 ** 20;

/**
 * The worker: the compiled .js next to this module or, when this module runs as TypeScript source
 * (tests), the .ts source behind tsx's loader, registered inside the worker.
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./unpack-worker.js', import.meta.url));
  // An eval worker resolves bare specifiers from the working directory, so hand it tsx's own path.
  const tsxPackage = createRequire(import.meta.url).resolve('tsx/package.json');
  const tsxApi = pathToFileURL(join(dirname(tsxPackage), 'dist/esm/api/index.mjs')).href;
  const entry = new URL('./unpack-worker.ts', import.meta.url).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true });
}

/** A buffer that is its whole ArrayBuffer (not a slice of Node's pool) can be transferred. */
function ownsItsMemory(chunk: Buffer): boolean {
  return chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength && chunk.buffer instanceof ArrayBuffer;
}

function toError(error: Extract<FromWorker, { type: 'failed' }>['error']): Error {
  return error.code !== undefined && error.code in ERROR_CATALOGUE
    ? new McpWarmError(error.code, error.message, error.details ? { details: error.details } : {})
    : new Error(error.message);
}

interface Job {
  task: WorkerTask;
  /** Called when a worker takes the job: returns the stream to pipe the layer's bytes into. */
  attach(worker: Worker): void;
}

/** A running unpack: write the layer's (still compressed) bytes to `input`; `result` settles when done. */
export interface UnpackJob {
  input: Writable;
  result: Promise<LayerContents>;
}

export class UnpackWorkerPool {
  private readonly idle: Worker[] = [];
  private readonly queue: Job[] = [];
  private workers = 0;
  private nextId = 1;

  constructor(private readonly size: number = Math.max(1, availableParallelism())) {}

  /** Starts unpacking a layer of `mediaType` into `dir` (an existing empty directory). */
  unpack(mediaType: string, dir: string, options: UnpackOptions): UnpackJob {
    const task: WorkerTask = { id: this.nextId++, dir, mediaType, options };
    let worker: Worker | undefined;
    let inFlight = 0;
    let resumeWrite: (() => void) | undefined;
    const pending: Array<[ToWorker, ArrayBuffer[]]> = [];
    const send = (message: ToWorker, transfer: ArrayBuffer[] = []): void => {
      if (worker) worker.postMessage(message, transfer);
      else pending.push([message, transfer]);
    };

    let settle!: { resolve: (c: LayerContents) => void; reject: (e: unknown) => void };
    const result = new Promise<LayerContents>((resolve, reject) => (settle = { resolve, reject }));

    // Chunks are batched into ~1 MiB messages: a message (and its acknowledgement) per network
    // chunk would cost more than the copy into a batch, which the worker then owns outright.
    let batch: Buffer[] = [];
    let batchBytes = 0;
    const flush = (): void => {
      if (batchBytes === 0) return;
      const data = Buffer.concat(batch, batchBytes);
      inFlight += data.length;
      send({ type: 'chunk', id: task.id, data }, ownsItsMemory(data) ? [data.buffer as ArrayBuffer] : []);
      batch = [];
      batchBytes = 0;
    };
    const input = new Writable({
      highWaterMark: BATCH_BYTES,
      write: (chunk: Buffer, _encoding, callback) => {
        batch.push(chunk);
        batchBytes += chunk.length;
        if (batchBytes >= BATCH_BYTES) flush();
        if (inFlight < IN_FLIGHT_LIMIT) callback();
        else resumeWrite = callback;
      },
      final: (callback) => {
        flush();
        send({ type: 'end', id: task.id });
        callback();
      },
      destroy: (error, callback) => {
        if (error) send({ type: 'abort', id: task.id, reason: error.message });
        callback(error);
      },
    });

    // Failures reach the caller through `result`; the stream's own error event needs no listener of its own.
    input.on('error', () => undefined);

    this.submit({
      task,
      attach: (taken) => {
        worker = taken;
        // A busy worker keeps the process alive; an idle one does not.
        taken.ref();
        const onMessage = (message: FromWorker): void => {
          if (message.id !== task.id) return;
          if (message.type === 'ack') {
            inFlight -= message.bytes;
            if (resumeWrite && inFlight < IN_FLIGHT_LIMIT) {
              const callback = resumeWrite;
              resumeWrite = undefined;
              callback();
            }
            return;
          }
          taken.off('message', onMessage);
          taken.off('error', onError);
          this.release(taken);
          if (message.type === 'done') settle.resolve(message.contents);
          else settle.reject(toError(message.error));
        };
        const onError = (error: Error): void => {
          taken.off('message', onMessage);
          this.workers -= 1;
          settle.reject(error);
          this.drain();
        };
        taken.on('message', onMessage);
        taken.once('error', onError);
        taken.postMessage({ type: 'task', task } satisfies ToWorker);
        for (const [message, transfer] of pending.splice(0)) taken.postMessage(message, transfer);
      },
    });
    return { input, result };
  }

  /** Stops every idle worker (busy ones finish their layer first and are then stopped). */
  async close(): Promise<void> {
    const idle = this.idle.splice(0);
    this.workers -= idle.length;
    await Promise.all(idle.map((worker) => worker.terminate()));
  }

  private submit(job: Job): void {
    this.queue.push(job);
    this.drain();
  }

  private drain(): void {
    while (this.queue.length > 0) {
      let worker = this.idle.pop();
      if (!worker && this.workers < this.size) {
        worker = startWorker();
        this.workers += 1;
      }
      if (!worker) return;
      this.queue.shift()!.attach(worker);
    }
  }

  private release(worker: Worker): void {
    worker.unref();
    this.idle.push(worker);
    this.drain();
  }
}

let shared: UnpackWorkerPool | undefined;

/** The process-wide pool, one worker per core, created on first use. */
export function sharedUnpackPool(): UnpackWorkerPool {
  shared ??= new UnpackWorkerPool();
  return shared;
}

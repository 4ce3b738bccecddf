/**
 * Worker thread that decompresses and unpacks layers sent by the unpack pool, one task at a time,
 * so that several layers of an image unpack on several cores while the main thread downloads and
 * verifies. Messages are described in unpack-pool.ts.
 */
import { PassThrough } from 'node:stream';
import { parentPort } from 'node:worker_threads';
import { isMcpWarmError } from '../errors.js';
import { decompressorFor } from './decompress.js';
import { unpackLayer } from './unpack.js';
import type { ToWorker, FromWorker, WorkerTask } from './unpack-pool.js';

if (!parentPort) throw new Error('unpack-worker.ts runs only as a worker thread');
const port = parentPort;
const post = (message: FromWorker): void => port.postMessage(message);

/** The task being unpacked; messages for an earlier (failed) task are acknowledged and dropped. */
let current: { id: number; input: PassThrough } | undefined;

function start(task: WorkerTask): void {
  const stream = new PassThrough({ highWaterMark: 4 * 2 ** 20 });
  current = { id: task.id, input: stream };
  let unpacked: Promise<unknown>;
  try {
    const decompressor = decompressorFor(task.mediaType);
    stream.on('error', (error) => decompressor.destroy(error));
    stream.pipe(decompressor);
    unpacked = unpackLayer(decompressor, task.dir, task.options);
  } catch (error) {
    unpacked = Promise.reject(error);
  }
  unpacked.then(
    (contents) => post({ type: 'done', id: task.id, contents: contents as Extract<FromWorker, { type: 'done' }>['contents'] }),
    (error: unknown) =>
      post({
        type: 'failed',
        id: task.id,
        error: isMcpWarmError(error)
          ? { code: error.code, message: error.message, details: error.details }
          : { message: error instanceof Error ? error.message : String(error) },
      }),
  );
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'task') {
    start(message.task);
    return;
  }
  const input = current?.id === message.id ? current.input : undefined;
  switch (message.type) {
    case 'chunk': {
      const bytes = Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength);
      if (input && !input.destroyed) input.write(bytes, () => post({ type: 'ack', id: message.id, bytes: bytes.length }));
      else post({ type: 'ack', id: message.id, bytes: bytes.length });
      return;
    }
    case 'end':
      input?.end();
      return;
    case 'abort':
      input?.destroy(new Error(message.reason));
      return;
  }
});

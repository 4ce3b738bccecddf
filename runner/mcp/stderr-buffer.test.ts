import { PassThrough } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { StderrBuffer } from './stderr-buffer.js';

async function written(chunks: Array<string | Buffer>, maxBytes?: number): Promise<StderrBuffer> {
  const stream = new PassThrough();
  const buffer = new StderrBuffer(stream, maxBytes);
  for (const chunk of chunks) stream.write(chunk);
  await tick();
  return buffer;
}

describe('StderrBuffer', () => {
  it('keeps everything under the limit', async () => {
    const buffer = await written(['starting\n', 'listening on stdio\n']);
    expect(buffer.text()).toBe('starting\nlistening on stdio\n');
    expect(buffer.totalBytes).toBe(28);
    expect(buffer.droppedBytes).toBe(0);
  });

  it('keeps only the last maxBytes, across and within chunks', async () => {
    const buffer = await written(['aaaa', 'bbbb', 'cccc'], 6);
    expect(buffer.text()).toBe('bbcccc');
    expect(buffer.droppedBytes).toBe(6);
    const big = await written(['0123456789'], 4);
    expect(big.text()).toBe('6789');
  });

  it('drops a character cut in half by the limit instead of garbling it', async () => {
    const buffer = await written([Buffer.from('é-ok')], 4);
    // 'é' is two bytes; the limit keeps its second byte only.
    expect(buffer.text()).toBe('-ok');
  });

  it('tail(n) gives the last n lines without the final newline', async () => {
    const buffer = await written(['one\ntwo\n', 'three\nfour\n']);
    expect(buffer.tail(2)).toBe('three\nfour');
    expect(buffer.tail(10)).toBe('one\ntwo\nthree\nfour');
    expect(buffer.tail(0)).toBe('');
    expect((await written([])).tail(5)).toBe('');
    expect((await written(['no newline at the end'])).tail(1)).toBe('no newline at the end');
  });

  it('drains a stream far larger than its limit so the writer never blocks', async () => {
    const stream = new PassThrough({ highWaterMark: 1024 });
    const buffer = new StderrBuffer(stream, 4096);
    // Without a reader the first full buffer would never drain and this loop would hang.
    for (let i = 0; i < 1000; i += 1) {
      if (!stream.write(Buffer.alloc(1024, 'e'))) await new Promise((resolve) => stream.once('drain', resolve));
    }
    await tick();
    expect(buffer.totalBytes).toBe(1024 * 1000);
    expect(buffer.text()).toHaveLength(4096);
  });
});

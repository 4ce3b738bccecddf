import { describe, expect, it } from 'vitest';
import { sseData } from './sse-reader.js';

function body(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

describe('sseData', () => {
  it('yields each event data, across chunk boundaries, skipping comments and data-less events', async () => {
    const events: string[] = [];
    for await (const data of sseData(body(['event: message\ndata: {"a":', '1}\n\n: keep-alive\n\nid: 3\r\ndata: x\r\ndata:y\r\n\r\n', 'data: cut']))) events.push(data);
    expect(events).toEqual(['{"a":1}', 'x\ny']);
  });
});

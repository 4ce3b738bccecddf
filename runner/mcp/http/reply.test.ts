import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openReply, type RequestReply } from './reply.js';

const ANSWER = { jsonrpc: '2.0', id: 7, result: { content: [] } } as const;
const PROGRESS = { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 't', progress: 1 } } as const;
const GIVEN_UP = { jsonrpc: '2.0', id: 7, error: { code: -32000, message: 'given up' } } as const;

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** A real HTTP server whose one request gets a reply; resolves with the reply once the request came in. */
async function replyTo(accept: string, streaming: boolean): Promise<{ reply: RequestReply; response: Promise<Response>; gone: Promise<void>; abort(): void }> {
  let opened!: (reply: RequestReply) => void;
  const ready = new Promise<RequestReply>((resolve) => (opened = resolve));
  let clientGone!: () => void;
  const gone = new Promise<void>((resolve) => (clientGone = resolve));
  const server = createServer((_req, res: ServerResponse) => opened(openReply(res, streaming, clientGone)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const controller = new AbortController();
  const response = fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { method: 'POST', headers: { accept }, body: '{}', signal: controller.signal });
  response.catch(() => undefined);
  return { reply: await ready, response, gone, abort: () => controller.abort() };
}

describe('a reply that may stream', () => {
  it('answers with one JSON body when the answer comes first', async () => {
    const { reply, response } = await replyTo('application/json, text/event-stream', true);
    reply.finish(ANSWER);
    const answered = await response;
    expect(answered.headers.get('content-type')).toBe('application/json');
    expect(await answered.json()).toEqual(ANSWER);
  });

  it('opens an event stream for a message before the answer, which then ends it', async () => {
    const { reply, response } = await replyTo('text/event-stream', true);
    reply.send(PROGRESS);
    const streamed = await response;
    expect(streamed.headers.get('content-type')).toBe('text/event-stream');
    reply.finish(ANSWER);
    expect(await streamed.text()).toBe(`event: message\ndata: ${JSON.stringify(PROGRESS)}\n\nevent: message\ndata: ${JSON.stringify(ANSWER)}\n\n`);
  });

  it('opens its stream on its own while the answer is still to come', async () => {
    const { reply, response } = await replyTo('text/event-stream', true);
    // The head arrives with nothing sent: the client knows its request is being worked on.
    const streamed = await response;
    expect(streamed.headers.get('content-type')).toBe('text/event-stream');
    expect(reply.open).toBe(true);
    reply.finish(ANSWER);
    expect(await streamed.text()).toBe(`event: message\ndata: ${JSON.stringify(ANSWER)}\n\n`);
  });

  it('ends as an empty stream when given up, and tells of a client that went away', async () => {
    const { reply, response } = await replyTo('text/event-stream', true);
    reply.cancel(GIVEN_UP);
    const ended = await response;
    expect(ended.headers.get('content-type')).toBe('text/event-stream');
    expect(await ended.text()).toBe('');
    expect(reply.open).toBe(false);

    const second = await replyTo('text/event-stream', true);
    second.abort();
    await second.gone;
    expect(second.reply.open).toBe(false);
  });
});

describe('a JSON reply', () => {
  it('drops messages before the answer, and carries the error of a request given up', async () => {
    const { reply, response } = await replyTo('application/json', false);
    reply.send(PROGRESS);
    reply.cancel(GIVEN_UP);
    const answered = await response;
    expect(answered.headers.get('content-type')).toBe('application/json');
    expect(await answered.json()).toEqual(GIVEN_UP);
  });
});

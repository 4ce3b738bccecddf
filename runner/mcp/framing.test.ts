import { describe, expect, it } from 'vitest';
import { encodeMessage, LineDecoder, type DecodedLine } from './framing.js';
import type { JsonRpcMessage } from './jsonrpc.js';

function messages(decoded: DecodedLine[]): JsonRpcMessage[] {
  return decoded.map((item) => {
    if (item.kind !== 'message') throw new Error(`expected a message, got garbage: ${item.reason}`);
    return item.message;
  });
}

const ping = { jsonrpc: '2.0', id: 1, method: 'ping' } as const;

describe('LineDecoder', () => {
  it('decodes several messages in one chunk and a message split over many chunks', () => {
    const decoder = new LineDecoder();
    const two = Buffer.from(`${JSON.stringify(ping)}\n${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
    expect(messages(decoder.push(two))).toEqual([ping, { jsonrpc: '2.0', method: 'notifications/initialized' }]);

    const line = Buffer.from(`${JSON.stringify({ jsonrpc: '2.0', id: 'a', result: { ok: true } })}\n`);
    const decoded: DecodedLine[] = [];
    for (let at = 0; at < line.length; at += 3) decoded.push(...decoder.push(line.subarray(at, at + 3)));
    expect(messages(decoded)).toEqual([{ jsonrpc: '2.0', id: 'a', result: { ok: true } }]);
  });

  it('decodes a multi-byte character split between chunks', () => {
    const decoder = new LineDecoder();
    const line = Buffer.from(`${JSON.stringify({ jsonrpc: '2.0', method: 'm', params: { text: 'héllo 🎉' } })}\n`);
    const split = line.indexOf(Buffer.from('🎉')) + 2;
    expect(decoder.push(line.subarray(0, split))).toEqual([]);
    expect(messages(decoder.push(line.subarray(split)))).toEqual([{ jsonrpc: '2.0', method: 'm', params: { text: 'héllo 🎉' } }]);
  });

  it('accepts CRLF line ends and skips blank lines', () => {
    const decoder = new LineDecoder();
    expect(messages(decoder.push(Buffer.from(`\n  \r\n${JSON.stringify(ping)}\r\n\n`)))).toEqual([ping]);
  });

  it('reports lines that are not JSON-RPC 2.0 messages as garbage with their start, and goes on', () => {
    const decoder = new LineDecoder();
    const decoded = decoder.push(
      Buffer.from(
        [
          'Server listening on stdio',
          '{"id": 1, "method": "ping"}',
          '[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]',
          '{"jsonrpc": "2.0", "id": null, "method": "ping"}',
          '{"jsonrpc": "2.0", "id": 1}',
          JSON.stringify(ping),
          '',
        ].join('\n'),
      ),
    );
    expect(decoded).toEqual([
      { kind: 'garbage', reason: 'not JSON', lineStart: 'Server listening on stdio' },
      { kind: 'garbage', reason: 'not a JSON-RPC 2.0 message: jsonrpc is not "2.0"', lineStart: '{"id": 1, "method": "ping"}' },
      expect.objectContaining({ kind: 'garbage', reason: expect.stringMatching(/batch/) }),
      expect.objectContaining({ kind: 'garbage', reason: expect.stringMatching(/id is not/) }),
      expect.objectContaining({ kind: 'garbage', reason: expect.stringMatching(/neither/) }),
      { kind: 'message', message: ping },
    ]);
  });

  it('quotes only the start of a long garbage line', () => {
    const decoded = new LineDecoder().push(Buffer.from(`${'x'.repeat(10_000)}\n`));
    expect(decoded).toEqual([{ kind: 'garbage', reason: 'not JSON', lineStart: 'x'.repeat(120) }]);
  });

  it('reports a line over the limit once, drops the rest of it, and decodes the next line', () => {
    const decoder = new LineDecoder(64);
    const long = `{"jsonrpc":"2.0","method":"m","params":{"text":"${'y'.repeat(100)}"}}`;
    const decoded = [...decoder.push(Buffer.from(long.slice(0, 40))), ...decoder.push(Buffer.from(long.slice(40, 80)))];
    expect(decoded).toEqual([{ kind: 'garbage', reason: 'line longer than 64 bytes', lineStart: long.slice(0, 80) }]);
    expect(messages(decoder.push(Buffer.from(`${long.slice(80)}\n${JSON.stringify(ping)}\n`)))).toEqual([ping]);
  });

  it('allows a line of exactly the limit', () => {
    const line = JSON.stringify(ping);
    expect(messages(new LineDecoder(line.length).push(Buffer.from(`${line}\n`)))).toEqual([ping]);
    expect(new LineDecoder(line.length - 1).push(Buffer.from(`${line}\n`))).toEqual([
      expect.objectContaining({ kind: 'garbage', reason: `line longer than ${line.length - 1} bytes` }),
    ]);
  });

  it('decodes a last line without its newline at the end of the stream', () => {
    const decoder = new LineDecoder();
    expect(decoder.push(Buffer.from(JSON.stringify(ping)))).toEqual([]);
    expect(messages(decoder.end())).toEqual([ping]);
    expect(decoder.end()).toEqual([]);
  });
});

describe('encodeMessage', () => {
  it('writes one line that decodes to the same message, newlines in strings included', () => {
    const message: JsonRpcMessage = { jsonrpc: '2.0', id: '1', result: { content: [{ type: 'text', text: 'two\nlines\r\n' }] } };
    const encoded = encodeMessage(message);
    expect(encoded.indexOf('\n')).toBe(encoded.length - 1);
    expect(messages(new LineDecoder().push(Buffer.from(encoded)))).toEqual([message]);
  });
});

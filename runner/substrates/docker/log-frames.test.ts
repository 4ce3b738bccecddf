import { describe, expect, it } from 'vitest';
import { demuxLogFrames } from './log-frames.js';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe('demuxLogFrames', () => {
  it('joins stdout and stderr frames in order', () => {
    const raw = Buffer.concat([frame(1, 'starting\n'), frame(2, 'agent listening on http://127.0.0.1:1 (sandbox bwrap)\n'), frame(1, 'done\n')]);
    expect(demuxLogFrames(raw)).toBe('starting\nagent listening on http://127.0.0.1:1 (sandbox bwrap)\ndone\n');
  });

  it('keeps multi-byte characters split across frames whole', () => {
    const text = Buffer.from('é');
    const raw = Buffer.concat([frame(1, ''), Buffer.from([1, 0, 0, 0, 0, 0, 0, 1]), text.subarray(0, 1), Buffer.from([1, 0, 0, 0, 0, 0, 0, 1]), text.subarray(1)]);
    expect(demuxLogFrames(raw)).toBe('é');
  });

  it('reads a truncated last frame as far as it goes, and an empty log as empty', () => {
    expect(demuxLogFrames(frame(2, 'boom\n').subarray(0, 11))).toBe('boo');
    expect(demuxLogFrames(Buffer.alloc(0))).toBe('');
  });

  it('takes a log without frame headers (a TTY container) as plain text', () => {
    expect(demuxLogFrames(Buffer.from('plain text from a tty\n'))).toBe('plain text from a tty\n');
  });
});

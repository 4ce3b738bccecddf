import { describe, expect, it } from 'vitest';
import { formatBytes, parseByteSize } from './byte-size.js';

describe('parseByteSize', () => {
  it.each([
    ['10Gi', 10 * 2 ** 30],
    ['500Mi', 500 * 2 ** 20],
    ['2G', 2e9],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['1048576', 1048576],
    ['64KiB', 65536],
    ['3gb', 3e9],
    [' 7 Mi ', 7 * 2 ** 20],
  ])('reads %s', (input, bytes) => {
    expect(parseByteSize(input)).toBe(bytes);
  });

  it.each(['', 'ten', '10Xi', '-1Gi', '0', '1.2.3G', 'Gi'])('refuses %j with a coded error', (input) => {
    expect(() => parseByteSize(input)).toThrowError(expect.objectContaining({ code: 'SIZE_INVALID' }));
  });
});

describe('formatBytes', () => {
  it('picks a binary unit', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(3 * 2 ** 20)).toBe('3.0 MiB');
    expect(formatBytes(10 * 2 ** 30)).toBe('10.0 GiB');
  });
});

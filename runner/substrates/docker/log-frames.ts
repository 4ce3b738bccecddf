/**
 * A container's log as the Engine API returns it for a container without a TTY: frames of an
 * 8-byte header (stream: 1 stdout, 2 stderr; three zero bytes; the payload's length, big-endian)
 * and the payload. Both streams are read as one text, in order.
 */
const HEADER_BYTES = 8;

export function demuxLogFrames(raw: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + HEADER_BYTES <= raw.length) {
    const stream = raw[offset];
    const length = raw.readUInt32BE(offset + 4);
    // Not a frame header: the log is plain text (a TTY container).
    if (stream === undefined || stream > 2 || raw[offset + 1] !== 0 || raw[offset + 2] !== 0 || raw[offset + 3] !== 0) return raw.toString('utf8');
    parts.push(raw.subarray(offset + HEADER_BYTES, Math.min(raw.length, offset + HEADER_BYTES + length)));
    offset += HEADER_BYTES + length;
  }
  return Buffer.concat(parts).toString('utf8');
}

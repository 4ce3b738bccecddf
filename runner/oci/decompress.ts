/**
 * Layer decompression by media type: gzip (zlib), zstd (fzstd, pure JS) or plain tar.
 * Every decoder honours backpressure, so a decompression bomb is stopped by whoever stops
 * reading (the unpack budget) instead of filling memory.
 */
import { Decompress } from 'fzstd';
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import { createGunzip, type ZlibOptions } from 'node:zlib';
import { McpWarmError } from '../errors.js';
import { MEDIA_TYPES } from './types.js';

type LayerEncoding = 'tar' | 'gzip' | 'zstd';

const LAYER_ENCODINGS: ReadonlyMap<string, LayerEncoding> = new Map([
  [MEDIA_TYPES.ociLayerTar, 'tar'],
  [MEDIA_TYPES.ociLayerGzip, 'gzip'],
  [MEDIA_TYPES.ociLayerZstd, 'zstd'],
  [MEDIA_TYPES.dockerLayerTar, 'tar'],
  [MEDIA_TYPES.dockerLayerGzip, 'gzip'],
  // Non-distributable ("foreign") layers are ordinary layers once their bytes are at hand.
  ['application/vnd.oci.image.layer.nondistributable.v1.tar', 'tar'],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'gzip'],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar+zstd', 'zstd'],
  ['application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', 'gzip'],
]);

function layerEncoding(mediaType: string): LayerEncoding {
  const encoding = LAYER_ENCODINGS.get(mediaType);
  if (encoding === undefined) {
    throw new McpWarmError('LAYER_MEDIA_TYPE_UNSUPPORTED', `unsupported layer media type: ${mediaType}`, {
      details: { mediaType },
    });
  }
  return encoding;
}

/** Throws LAYER_MEDIA_TYPE_UNSUPPORTED for a layer this pipeline cannot unpack (checked before any download). */
export function checkLayerMediaType(mediaType: string): void {
  layerEncoding(mediaType);
}

/** A stream that turns a layer blob of `mediaType` into tar bytes. */
export function decompressorFor(mediaType: string): Transform {
  switch (layerEncoding(mediaType)) {
    case 'tar':
      return new PassThrough();
    case 'gzip':
      return gunzipReportingCorruption();
    case 'zstd':
      return new ZstdDecompressor();
  }
}

function corrupt(encoding: string, cause: unknown): McpWarmError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new McpWarmError('UNPACK_CORRUPT', `layer is not valid ${encoding} data: ${reason}`, { cause });
}

// Large output chunks: each chunk is a round trip to the thread pool, and 1 MiB ones inflate at close to zlib's one-shot speed.
const GUNZIP_CHUNK_SIZE = 1024 * 1024;
// Room for a few inflated chunks, so the thread pool inflates the next one while the unpacker writes this one.
const GUNZIP_READ_AHEAD = 4 * GUNZIP_CHUNK_SIZE;

function isZlibError(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/**
 * zlib destroys the stream with its own error; only those become UNPACK_CORRUPT. An error the
 * stream is destroyed with from outside (a digest mismatch upstream, via pipeline) passes as is.
 */
function gunzipReportingCorruption(): Transform {
  // zlib passes stream options on to its Transform; @types/node 20 lists only the zlib ones.
  const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK_SIZE, readableHighWaterMark: GUNZIP_READ_AHEAD } as ZlibOptions);
  const destroy = gunzip._destroy.bind(gunzip);
  gunzip._destroy = (error, callback) =>
    destroy(error, (final) => callback(final && isZlibError(final) ? corrupt('gzip', final) : final));
  return gunzip;
}

/** libzstd refuses larger windows unless told otherwise (ZSTD_WINDOWLOG_LIMIT_DEFAULT = 27). */
const MAX_ZSTD_WINDOW = 1 << 27;
const MAX_ZSTD_BLOCK = 128 * 1024;
const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

type ScanField = 'magic' | 'descriptor' | 'frameHeader' | 'skippableSize' | 'blockHeader';

/**
 * Follows zstd frame and block boundaries without decoding (RFC 8878): it checks each frame's
 * window before fzstd would allocate it, and reports where blocks end so the decoder can be fed
 * one block at a time (at most 128 KiB of output per push, so backpressure holds for
 * highly compressible input).
 */
export class ZstdBlockScanner {
  private field: ScanField = 'magic';
  private readonly bytes = Buffer.alloc(14);
  private have = 0;
  private need = 4;
  private skipLeft = 0;
  private afterSkip: 'block' | 'frameEnd' = 'frameEnd';
  private descriptor = 0;
  private lastBlock = false;

  /** Offsets in `chunk` just past each block that ends in it. Throws on malformed framing. */
  scan(chunk: Uint8Array): number[] {
    const blockEnds: number[] = [];
    let position = 0;
    while (position < chunk.length) {
      if (this.skipLeft > 0) {
        const step = Math.min(this.skipLeft, chunk.length - position);
        position += step;
        this.skipLeft -= step;
        if (this.skipLeft === 0 && this.finishSkip()) blockEnds.push(position);
        continue;
      }
      const step = Math.min(this.need - this.have, chunk.length - position);
      this.bytes.set(chunk.subarray(position, position + step), this.have);
      this.have += step;
      position += step;
      if (this.have === this.need && this.readField()) blockEnds.push(position);
    }
    return blockEnds;
  }

  /** True between frames: the stream may end here. */
  get atFrameBoundary(): boolean {
    return this.field === 'magic' && this.have === 0 && this.skipLeft === 0;
  }

  private expect(field: ScanField, length: number): void {
    this.field = field;
    this.have = 0;
    this.need = length;
  }

  /** Interprets a complete field; true when a block ended with it (an empty block). */
  private readField(): boolean {
    const bytes = this.bytes;
    switch (this.field) {
      case 'magic': {
        const magic = bytes.readUInt32LE(0);
        if (magic === ZSTD_MAGIC) this.expect('descriptor', 1);
        else if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) this.expect('skippableSize', 4);
        else throw new Error('bad frame magic number');
        return false;
      }
      case 'descriptor': {
        this.descriptor = bytes[0]!;
        if (this.descriptor & 0x08) throw new Error('reserved frame header bit set');
        const singleSegment = (this.descriptor >> 5) & 1;
        const dictionaryBytes = [0, 1, 2, 4][this.descriptor & 3]!;
        this.expect('frameHeader', (singleSegment ? 0 : 1) + dictionaryBytes + this.contentSizeBytes());
        return false;
      }
      case 'frameHeader': {
        const window = this.windowSize();
        if (window > MAX_ZSTD_WINDOW) {
          throw new Error(`frame window of ${window} bytes exceeds the ${MAX_ZSTD_WINDOW}-byte limit`);
        }
        this.expect('blockHeader', 3);
        return false;
      }
      case 'skippableSize':
        this.afterSkip = 'frameEnd';
        return this.skip(bytes.readUInt32LE(0));
      case 'blockHeader': {
        const header = bytes.readUIntLE(0, 3);
        const type = (header >> 1) & 3;
        const size = header >>> 3;
        if (type === 3) throw new Error('reserved block type');
        if (size > MAX_ZSTD_BLOCK) throw new Error(`block of ${size} bytes exceeds the 128 KiB maximum`);
        this.lastBlock = (header & 1) === 1;
        this.afterSkip = 'block';
        // An RLE block stores one byte, repeated `size` times.
        return this.skip(type === 1 ? 1 : size);
      }
    }
  }

  private contentSizeBytes(): number {
    const flag = this.descriptor >> 6;
    return flag === 0 ? (this.descriptor >> 5) & 1 : 1 << flag;
  }

  private windowSize(): number {
    if ((this.descriptor >> 5) & 1) {
      // Single segment: the window is the content size, which ends the header.
      const size = this.contentSizeBytes();
      const offset = this.need - size;
      return size === 8
        ? this.bytes.readUInt32LE(offset) + this.bytes.readUInt32LE(offset + 4) * 2 ** 32
        : this.bytes.readUIntLE(offset, size) + (size === 2 ? 256 : 0);
    }
    const descriptor = this.bytes[0]!;
    const base = 2 ** (10 + (descriptor >> 3));
    return base + (base / 8) * (descriptor & 7);
  }

  private skip(length: number): boolean {
    this.have = 0;
    this.skipLeft = length;
    return length === 0 && this.finishSkip();
  }

  /** After a skipped block body or frame tail; true when a block just ended. */
  private finishSkip(): boolean {
    const blockEnded = this.afterSkip === 'block';
    if (blockEnded && !this.lastBlock) {
      this.expect('blockHeader', 3);
    } else if (blockEnded && (this.descriptor & 0x04) !== 0) {
      this.afterSkip = 'frameEnd';
      this.expect('magic', 4);
      this.skipLeft = 4; // content checksum
    } else {
      this.expect('magic', 4);
    }
    return blockEnded;
  }
}

class ZstdDecompressor extends Transform {
  private readonly scanner = new ZstdBlockScanner();
  private readonly decoder = new Decompress((data) => {
    if (data.length > 0 && !this.push(Buffer.from(data.buffer, data.byteOffset, data.length))) this.full = true;
  });
  private full = false;
  private resumeFeeding: (() => void) | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let pieceEnds: number[];
    try {
      pieceEnds = this.scanner.scan(chunk);
    } catch (error) {
      callback(corrupt('zstd', error));
      return;
    }
    pieceEnds.push(chunk.length);
    this.feed(chunk, pieceEnds, 0, 0, callback);
  }

  /** Pushes the pieces from `index` on, pausing while the reader is full. */
  private feed(chunk: Buffer, pieceEnds: number[], index: number, start: number, callback: TransformCallback): void {
    let from = start;
    for (let i = index; i < pieceEnds.length; i++) {
      const to = pieceEnds[i]!;
      try {
        if (to > from) this.decoder.push(chunk.subarray(from, to));
      } catch (error) {
        callback(corrupt('zstd', error));
        return;
      }
      from = to;
      if (this.full && i + 1 < pieceEnds.length) {
        this.full = false;
        const next = i + 1;
        this.resumeFeeding = () => this.feed(chunk, pieceEnds, next, from, callback);
        return;
      }
    }
    this.full = false;
    callback();
  }

  override _read(size: number): void {
    const resume = this.resumeFeeding;
    this.resumeFeeding = undefined;
    resume?.();
    // Unless feeding paused again (having pushed), let Transform take the next input chunk:
    // the rest of the chunk may have produced no output, and this read must not go unanswered.
    if (this.resumeFeeding === undefined) super._read(size);
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (!this.scanner.atFrameBoundary) throw new Error('truncated frame');
      this.decoder.push(new Uint8Array(0), true);
    } catch (error) {
      callback(corrupt('zstd', error));
      return;
    }
    callback();
  }
}

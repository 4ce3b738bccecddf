import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, pipeline } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { McpWarmError } from '../errors.js';
import { findExecutable } from '../exec.js';
import { decompressorFor } from './decompress.js';
import { encodeTarEntry, tarBuffer, type TarEntry } from './tar-writer.js';
import { MEDIA_TYPES } from './types.js';
import { unpackLayer, type LayerContents, type UnpackBudget, type UnpackOptions } from './unpack.js';

const asRoot = process.geteuid?.() === 0;
const zstdCli = findExecutable('zstd');
const getfattr = findExecutable('getfattr');
const inCi = process.env.CI === 'true';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcpwarm-unpack-test-'));
  dirs.push(dir);
  return dir;
}

function budget(bytesLeft = 1 << 30, entriesLeft = 100_000): UnpackBudget {
  return { bytesLeft, entriesLeft };
}

async function unpack(
  source: Buffer | Readable,
  options: Partial<UnpackOptions> = {},
): Promise<{ dir: string; contents: LayerContents }> {
  const dir = freshDir();
  const stream = Buffer.isBuffer(source) ? Readable.from([source]) : source;
  const contents = await unpackLayer(stream, dir, { budget: budget(), layerName: 'test-layer', overlayWhiteouts: false, ...options });
  return { dir, contents };
}

async function unpackError(source: Buffer | Readable, options: Partial<UnpackOptions> = {}): Promise<McpWarmError> {
  const error = await unpack(source, options).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(McpWarmError);
  return error as McpWarmError;
}

function file(path: string, content: string, extra: Partial<TarEntry> = {}): TarEntry {
  return { path, type: 'file', data: Buffer.from(content), ...extra };
}

function decompressed(blob: Buffer, mediaType: string, chunkSize = blob.length): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < blob.length; offset += chunkSize) chunks.push(blob.subarray(offset, offset + chunkSize));
  return pipeline(Readable.from(chunks), decompressorFor(mediaType), () => undefined);
}

function zstd(data: Buffer, ...args: string[]): Buffer {
  return execFileSync(zstdCli ?? 'zstd', ['-q', '-c', ...args], { input: data, maxBuffer: 1 << 30 });
}

describe('unpackLayer: entries', () => {
  it('writes files, directories, symlinks and hardlinks with their modes and mtimes', async () => {
    const { dir, contents } = await unpack(
      tarBuffer([
        { path: 'etc/', type: 'directory', mode: 0o750, mtime: 1_500_000_000 },
        file('etc/config', 'key=value\n', { mode: 0o640, mtime: 1_600_000_000 }),
        file('bin/tool', '#!/bin/sh\n', { mode: 0o755, mtime: 1_600_000_100 }),
        { path: 'bin/alias', type: 'symlink', linkname: 'tool', mtime: 1_600_000_200 },
        { path: 'bin/tool-again', type: 'hardlink', linkname: 'bin/tool' },
        { path: 'tmp/', type: 'directory', mode: 0o1777 },
      ]),
    );
    expect(contents).toEqual({ entries: 6, bytes: 20, whiteouts: [], opaqueDirs: [] });
    expect(readFileSync(join(dir, 'etc/config'), 'utf8')).toBe('key=value\n');
    const config = statSync(join(dir, 'etc/config'));
    expect(config.mode & 0o7777).toBe(0o640);
    expect(config.mtimeMs).toBe(1_600_000_000_000);
    const etc = statSync(join(dir, 'etc'));
    expect(etc.mode & 0o7777).toBe(0o750);
    // Set after etc/config was written into it.
    expect(etc.mtimeMs).toBe(1_500_000_000_000);
    expect(statSync(join(dir, 'bin/tool')).mode & 0o7777).toBe(0o755);
    expect(readlinkSync(join(dir, 'bin/alias'))).toBe('tool');
    expect(lstatSync(join(dir, 'bin/alias')).mtimeMs).toBe(1_600_000_200_000);
    expect(statSync(join(dir, 'bin/tool-again')).ino).toBe(statSync(join(dir, 'bin/tool')).ino);
    expect(statSync(join(dir, 'bin/tool')).nlink).toBe(2);
    expect(statSync(join(dir, 'tmp')).mode & 0o7777).toBe(0o1777);
    // A parent without an entry of its own is created 0755.
    expect(statSync(join(dir, 'bin')).mode & 0o7777).toBe(0o755);
  });

  it('keeps ownership when running as root', async () => {
    const { dir } = await unpack(
      tarBuffer([
        { path: 'home/app/', type: 'directory', uid: 1000, gid: 1001 },
        file('home/app/data', 'x', { uid: 1000, gid: 1002 }),
        { path: 'home/app/link', type: 'symlink', linkname: 'data', uid: 1003, gid: 1004 },
      ]),
    );
    const expectOwner = (path: string, uid: number, gid: number): void => {
      const stats = lstatSync(join(dir, path));
      expect([stats.uid, stats.gid]).toEqual(asRoot ? [uid, gid] : [process.geteuid!(), process.getegid!()]);
    };
    expectOwner('home/app', 1000, 1001);
    expectOwner('home/app/data', 1000, 1002);
    expectOwner('home/app/link', 1003, 1004);
  });

  it('drops setuid and setgid bits unless allowed', async () => {
    const layer = tarBuffer([
      file('bin/su', 'su', { mode: 0o4755, uid: 0, gid: 0 }),
      file('bin/wall', 'wall', { mode: 0o2755, uid: 0, gid: 5 }),
      { path: 'shared/', type: 'directory', mode: 0o2775 },
    ]);
    const dropped = await unpack(layer);
    expect(statSync(join(dropped.dir, 'bin/su')).mode & 0o7777).toBe(0o755);
    expect(statSync(join(dropped.dir, 'bin/wall')).mode & 0o7777).toBe(0o755);
    expect(statSync(join(dropped.dir, 'shared')).mode & 0o7777).toBe(0o775);
    const kept = await unpack(layer, { allowSetid: true });
    expect(statSync(join(kept.dir, 'bin/su')).mode & 0o7777).toBe(0o4755);
    expect(statSync(join(kept.dir, 'bin/wall')).mode & 0o7777).toBe(0o2755);
    expect(statSync(join(kept.dir, 'shared')).mode & 0o7777).toBe(0o2775);
  });

  it('skips device nodes and fifos but counts them', async () => {
    const { dir, contents } = await unpack(
      tarBuffer([
        { path: 'dev/null', type: 'char', devmajor: 1, devminor: 3 },
        { path: 'dev/sda', type: 'block', devmajor: 8, devminor: 0 },
        { path: 'run/pipe', type: 'fifo' },
        file('ok', 'ok'),
      ]),
    );
    expect(contents.entries).toBe(4);
    expect(existsSync(join(dir, 'dev/null'))).toBe(false);
    expect(existsSync(join(dir, 'dev/sda'))).toBe(false);
    expect(existsSync(join(dir, 'run/pipe'))).toBe(false);
    expect(readFileSync(join(dir, 'ok'), 'utf8')).toBe('ok');
  });

  it('reads PAX long names and link targets', async () => {
    const longDir = `${'d'.repeat(90)}/${'e'.repeat(90)}`;
    const longName = `${longDir}/${'f'.repeat(120)}.txt`;
    const { dir } = await unpack(
      tarBuffer([
        file(longName, 'long'),
        { path: 'short-link', type: 'symlink', linkname: `/${longName}` },
        { path: `${longDir}/hard`, type: 'hardlink', linkname: longName },
      ]),
    );
    expect(readFileSync(join(dir, longName), 'utf8')).toBe('long');
    expect(readlinkSync(join(dir, 'short-link'))).toBe(`/${longName}`);
    expect(statSync(join(dir, longDir, 'hard')).ino).toBe(statSync(join(dir, longName)).ino);
  });

  it('merges a directory over a directory and replaces anything else', async () => {
    const { dir } = await unpack(
      tarBuffer([
        file('d/one', '1'),
        { path: 'd/', type: 'directory', mode: 0o700 },
        file('d/two', '2'),
        file('f', 'file'),
        { path: 'f', type: 'symlink', linkname: 'target' },
        { path: 'x/', type: 'directory' },
        file('x/inner', 'gone'),
        file('x', 'now a file'),
        file('same', 'old'),
        file('same', 'new'),
      ]),
    );
    expect(readdirSync(join(dir, 'd')).sort()).toEqual(['one', 'two']);
    expect(statSync(join(dir, 'd')).mode & 0o7777).toBe(0o700);
    expect(readlinkSync(join(dir, 'f'))).toBe('target');
    expect(readFileSync(join(dir, 'x'), 'utf8')).toBe('now a file');
    expect(readFileSync(join(dir, 'same'), 'utf8')).toBe('new');
  });

  it('ignores the root entry and contains absolute names', async () => {
    const { dir, contents } = await unpack(tarBuffer([{ path: './', type: 'directory', mode: 0o700 }, file('/abs/file', 'in')]));
    expect(contents.entries).toBe(2);
    expect(readFileSync(join(dir, 'abs/file'), 'utf8')).toBe('in');
    expect(statSync(dir).mode & 0o777).toBe(0o700); // mkdtemp's, not the entry's
  });

  it('accepts an empty layer: no bytes, or only end-of-archive blocks', async () => {
    expect((await unpack(Buffer.alloc(0))).contents.entries).toBe(0);
    expect((await unpack(Buffer.alloc(1024))).contents.entries).toBe(0);
    expect((await unpack(Buffer.alloc(10240))).contents.entries).toBe(0);
  });

  it('reads to the end past the end-of-archive blocks, within the byte budget', async () => {
    const chunks = (): Buffer[] => [tarBuffer([file('a', 'a')]), Buffer.alloc(4096, 7), Buffer.alloc(4096, 7)];
    const source = Readable.from(chunks());
    const { contents } = await unpack(source);
    expect(contents.entries).toBe(1);
    expect(source.readableEnded).toBe(true);
    const error = await unpackError(Readable.from(chunks()), { budget: budget(5000) });
    expect(error.code).toBe('UNPACK_LIMIT_EXCEEDED');
  });
});

function opaqueXattr(path: string): string {
  expect(getfattr, 'getfattr (apt-get install attr)').toBeDefined();
  return execFileSync(getfattr!, ['--absolute-names', '--only-values', '-n', 'trusted.overlay.opaque', path], { encoding: 'utf8' });
}

describe('unpackLayer: whiteouts', () => {
  const layer = tarBuffer([
    { path: 'a/', type: 'directory' },
    file('a/.wh..wh..opq', ''),
    file('a/kept', 'new'),
    file('.wh.gone', ''),
    file('b/.wh.old', ''),
    file('.wh.both', ''),
    file('both', 'this layer provides it'),
    file('.wh..wh.plnk', ''),
  ]);

  it('returns whiteouts and opaque directories and never leaves marker files', async () => {
    const { dir, contents } = await unpack(layer);
    expect(contents.whiteouts.sort()).toEqual(['b/old', 'both', 'gone']);
    expect(contents.opaqueDirs).toEqual(['a']);
    expect(contents.entries).toBe(8);
    expect(readdirSync(dir).sort()).toEqual(['a', 'both']);
    expect(readdirSync(join(dir, 'a'))).toEqual(['kept']);
  });

  it.runIf(asRoot || inCi)('also writes them in overlayfs form when asked', async () => {
    const { dir, contents } = await unpack(layer, { overlayWhiteouts: true });
    expect(contents.whiteouts.sort()).toEqual(['b/old', 'both', 'gone']);
    for (const path of ['gone', 'b/old']) {
      const stats = lstatSync(join(dir, path));
      expect(stats.isCharacterDevice()).toBe(true);
      expect(stats.rdev).toBe(0);
    }
    expect(lstatSync(join(dir, 'both')).isFile()).toBe(true);
    expect(opaqueXattr(join(dir, 'a'))).toBe('y');
  });

  it.runIf(asRoot || inCi)('makes a directory opaque when the layer deletes it and ships it again', async () => {
    const { dir, contents } = await unpack(tarBuffer([file('.wh.d', ''), file('d/new', 'new')]), { overlayWhiteouts: true });
    expect(contents).toMatchObject({ whiteouts: ['d'], opaqueDirs: [] });
    expect(lstatSync(join(dir, 'd')).isDirectory()).toBe(true);
    expect(opaqueXattr(join(dir, 'd'))).toBe('y');
  });

  it('refuses a whiteout that names no entry', async () => {
    const error = await unpackError(tarBuffer([file('a/.wh..', '')]));
    expect(error.code).toBe('UNPACK_PATH_ESCAPE');
    expect(error.details?.entry).toBe('a/.wh..');
  });
});

describe('unpackLayer: limits', () => {
  it('stops at the entry that exceeds the entry budget', async () => {
    const shared = budget(1 << 20, 5);
    const dir = freshDir();
    const entries = Array.from({ length: 10 }, (_, i) => file(`f${i}`, String(i)));
    const error = await unpackLayer(Readable.from([tarBuffer(entries)]), dir, {
      budget: shared,
      layerName: 'limited',
      overlayWhiteouts: false,
    }).catch((thrown: unknown) => thrown as McpWarmError);
    expect(error).toBeInstanceOf(McpWarmError);
    expect((error as McpWarmError).code).toBe('UNPACK_LIMIT_EXCEEDED');
    expect((error as McpWarmError).message).toContain('"f5"');
    expect(readdirSync(dir).sort()).toEqual(['f0', 'f1', 'f2', 'f3', 'f4']);
  });

  it('shares the budget between layers', async () => {
    const shared = budget(1 << 20, 3);
    await unpack(tarBuffer([file('a', 'a'), file('b', 'b')]), { budget: shared });
    expect(shared.entriesLeft).toBe(1);
    const error = await unpackError(tarBuffer([file('c', 'c'), file('d', 'd')]), { budget: shared });
    expect(error.code).toBe('UNPACK_LIMIT_EXCEEDED');
  });

  it('refuses a file larger than the byte budget before writing any of it, and stops reading', async () => {
    const size = 1 << 30;
    let produced = 0;
    const zeros = Buffer.alloc(1 << 16);
    const bomb = Readable.from(
      (function* generate() {
        yield* encodeTarEntry({ path: 'huge', type: 'file', data: Buffer.alloc(0) }).map((block, i) =>
          // Rewrite the header's size field: 1 GiB of content follows (lazily).
          i === 0 ? withSize(block, size) : block,
        );
        for (produced = 0; produced < size; produced += zeros.length) yield zeros;
      })(),
    );
    const dir = freshDir();
    const error = await unpackLayer(bomb, dir, { budget: budget(1 << 20), layerName: 'bomb', overlayWhiteouts: false }).catch(
      (thrown: unknown) => thrown as McpWarmError,
    );
    expect((error as McpWarmError).code).toBe('UNPACK_LIMIT_EXCEEDED');
    expect(readdirSync(dir)).toEqual([]);
    expect(produced).toBeLessThan(1 << 20);
    expect(bomb.destroyed).toBe(true);
  });
});

/** A ustar header block with another size (and a fixed checksum). */
function withSize(header: Buffer, size: number): Buffer {
  const block = Buffer.from(header);
  block.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  block.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}

describe('unpackLayer: corrupt input', () => {
  it('refuses bytes that are not a tar archive', async () => {
    const error = await unpackError(Buffer.from('this is not a tar archive at all'.repeat(40)));
    expect(error.code).toBe('UNPACK_CORRUPT');
  });

  it('refuses a header with a bad checksum', async () => {
    const layer = tarBuffer([file('a', 'a')]);
    layer[0] = 'b'.charCodeAt(0);
    expect((await unpackError(layer)).code).toBe('UNPACK_CORRUPT');
  });

  it('refuses an archive cut short inside a file', async () => {
    const layer = tarBuffer([file('big', 'x'.repeat(5000))]);
    expect((await unpackError(layer.subarray(0, 2048))).code).toBe('UNPACK_CORRUPT');
  });

  it('refuses compressed data under a plain tar media type', async () => {
    const error = await unpackError(gzipSync(tarBuffer([file('a', 'a')])));
    expect(error.code).toBe('UNPACK_CORRUPT');
    expect(error.message).toContain('gzip');
  });

  it('refuses unsupported entry types', async () => {
    const header = withType(encodeTarEntry(file('sparse', ''))[0]!, 'S');
    const error = await unpackError(Buffer.concat([header, Buffer.alloc(1024)]));
    expect(error.code).toBe('UNPACK_CORRUPT');
    expect(error.details?.entry).toBe('sparse');
  });
});

function withType(header: Buffer, type: string): Buffer {
  const block = Buffer.from(header);
  block.write(type, 156, 'ascii');
  block.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}

describe('compressed layers', () => {
  const entries = [
    { path: 'app/', type: 'directory', mode: 0o755 } as TarEntry,
    file('app/index.js', 'console.log("hello");\n'.repeat(2000)),
    file('app/zeros.bin', '\0'.repeat(300_000)),
    { path: 'app/main.js', type: 'symlink', linkname: 'index.js' } as TarEntry,
  ];
  const layer = tarBuffer(entries);

  async function expectLayer(source: Readable): Promise<void> {
    const { dir, contents } = await unpack(source);
    expect(contents.entries).toBe(4);
    expect(readFileSync(join(dir, 'app/index.js'), 'utf8')).toBe('console.log("hello");\n'.repeat(2000));
    expect(statSync(join(dir, 'app/zeros.bin')).size).toBe(300_000);
    expect(readlinkSync(join(dir, 'app/main.js'))).toBe('index.js');
  }

  it('unpacks gzip layers (OCI and Docker media types)', async () => {
    const blob = gzipSync(layer);
    await expectLayer(decompressed(blob, MEDIA_TYPES.ociLayerGzip));
    await expectLayer(decompressed(blob, MEDIA_TYPES.dockerLayerGzip, 100));
  });

  it('unpacks plain tar layers through the media type', async () => {
    await expectLayer(decompressed(layer, MEDIA_TYPES.ociLayerTar));
  });

  it('reports corrupt gzip as UNPACK_CORRUPT', async () => {
    const blob = gzipSync(layer);
    blob[blob.length >> 1] ^= 0xff;
    expect((await unpackError(decompressed(blob, MEDIA_TYPES.ociLayerGzip))).code).toBe('UNPACK_CORRUPT');
    const truncated = gzipSync(layer).subarray(0, 500);
    expect((await unpackError(decompressed(truncated, MEDIA_TYPES.ociLayerGzip))).code).toBe('UNPACK_CORRUPT');
  });

  it('refuses unsupported media types', () => {
    for (const mediaType of ['application/vnd.oci.image.layer.v1.tar+gzip+encrypted', 'application/octet-stream', 'application/vnd.oci.image.layer.v1.tar+bzip2']) {
      expect(() => decompressorFor(mediaType)).toThrow(expect.objectContaining({ code: 'LAYER_MEDIA_TYPE_UNSUPPORTED' }));
    }
    expect(() => decompressorFor('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip')).not.toThrow();
  });

  describe.runIf(zstdCli !== undefined || inCi)('zstd', () => {
    it('unpacks zstd layers, with and without content checksums, in any chunking', async () => {
      expect(zstdCli, 'the zstd CLI (apt-get install zstd) makes the test layers').toBeDefined();
      await expectLayer(decompressed(zstd(layer), MEDIA_TYPES.ociLayerZstd));
      await expectLayer(decompressed(zstd(layer, '--no-check', '-19'), MEDIA_TYPES.ociLayerZstd, 1));
      await expectLayer(decompressed(zstd(layer, '--long=24'), MEDIA_TYPES.ociLayerZstd, 777));
    });

    it('unpacks a stream of several frames and skippable frames', async () => {
      const skippable = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18]), Buffer.from([3, 0, 0, 0]), Buffer.from('abc')]);
      const blob = Buffer.concat([zstd(layer.subarray(0, 10_000)), skippable, zstd(layer.subarray(10_000))]);
      await expectLayer(decompressed(blob, MEDIA_TYPES.ociLayerZstd, 1000));
    });

    it('reports corrupt, truncated and oversized-window zstd as UNPACK_CORRUPT', async () => {
      const blob = zstd(layer);
      const flipped = Buffer.from(blob);
      flipped[20] ^= 0xff;
      flipped[40] ^= 0xff;
      expect((await unpackError(decompressed(flipped, MEDIA_TYPES.ociLayerZstd))).code).toBe('UNPACK_CORRUPT');
      expect((await unpackError(decompressed(blob.subarray(0, blob.length - 10), MEDIA_TYPES.ociLayerZstd))).code).toBe('UNPACK_CORRUPT');
      // Frame header: magic, descriptor (no flags), window descriptor 2^28 bytes; then a last raw block.
      const hugeWindow = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 18 << 3, 0x01, 0x00, 0x00]);
      const error = await unpackError(decompressed(hugeWindow, MEDIA_TYPES.ociLayerZstd));
      expect(error.code).toBe('UNPACK_CORRUPT');
      expect(error.message).toContain('window');
    });

    it('keeps to backpressure on a highly compressible stream', async () => {
      await expectBackpressure(zstd(Buffer.alloc(64 << 20)), MEDIA_TYPES.ociLayerZstd);
    });
  });

  it('gzip decompression keeps to backpressure on a highly compressible stream', async () => {
    await expectBackpressure(gzipSync(Buffer.alloc(64 << 20)), MEDIA_TYPES.ociLayerGzip);
  });
});

/** Nobody reads: only about one high-water mark (plus one output chunk) may pile up, not the whole 64 MiB bomb. */
async function expectBackpressure(blob: Buffer, mediaType: string): Promise<void> {
  const input = new PassThrough();
  const decompressor = decompressorFor(mediaType);
  input.pipe(decompressor);
  input.end(blob);
  await new Promise((resolve) => decompressor.once('readable', resolve));
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(decompressor.readableLength).toBeGreaterThan(0);
  expect(decompressor.readableLength).toBeLessThanOrEqual(Math.max(decompressor.readableHighWaterMark, 512 * 1024) + 2 ** 20);
  decompressor.destroy();
}

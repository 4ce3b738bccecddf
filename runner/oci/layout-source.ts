/**
 * An OCI image layout directory as an image source: `oci-layout` (imageLayoutVersion 1.0.0),
 * `index.json`, and content-addressed `blobs/sha256/<hex>`. Blob paths are built only from
 * validated digests, so nothing in index.json or a manifest can name a file outside `blobs/`.
 */
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { McpWarmError } from '../errors.js';
import { digestHex, isDigest, sha256Digest, verifyContent } from './digest.js';
import { MAX_MANIFEST_BYTES, parseManifestOrIndex, resolveManifestMediaType } from './manifest.js';
import type { ImageSource } from './source.js';
import { MEDIA_TYPES, type Descriptor, type FetchedManifest, type ImageIndex } from './types.js';

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
const LAYOUT_VERSION = '1.0.0';

function layoutInvalid(dir: string, problem: string, cause?: unknown): McpWarmError {
  return new McpWarmError('LAYOUT_INVALID', `OCI layout ${dir}: ${problem}`, { cause, details: { dir } });
}

function tagsOf(index: ImageIndex): string[] {
  return index.manifests.flatMap((entry) => entry.annotations?.[REF_NAME_ANNOTATION] ?? []);
}

export class OciLayoutSource implements ImageSource {
  readonly displayName: string;
  readonly location: string;
  private index: Promise<ImageIndex> | undefined;
  /** Every manifest descriptor seen so far (index.json and indexes read), for fetches by digest. */
  private readonly knownDescriptors = new Map<string, Descriptor>();

  constructor(
    readonly dir: string,
    readonly tag?: string,
  ) {
    this.displayName = `oci:${dir}${tag === undefined ? '' : `:${tag}`}`;
    this.location = `oci:${resolve(dir)}`;
  }

  /** `reference` is a tag (an index.json `ref.name`) or a digest; default the source's tag. */
  async getManifest(reference: string | undefined = this.tag): Promise<FetchedManifest> {
    const index = await this.loadIndex();
    let expected: { digest: string; size?: number; mediaType?: string };
    let listed = true;
    if (reference !== undefined && isDigest(reference)) {
      const known = this.knownDescriptors.get(reference);
      listed = known !== undefined;
      expected = known ?? { digest: reference };
    } else {
      expected = this.entryFor(index, reference);
    }
    const { digest } = expected;
    const what = `manifest ${digest} in ${this.displayName}`;
    const bytes = await this.readManifestBlob(digest, what, listed);
    verifyContent(bytes, expected, what);
    const mediaType = resolveManifestMediaType(expected.mediaType, bytes, what);
    const fetched = { digest, mediaType, bytes };
    const parsed = parseManifestOrIndex(fetched, what);
    if (parsed.kind === 'index') this.remember(parsed.index);
    return fetched;
  }

  async openBlob(descriptor: Descriptor): Promise<Readable> {
    const path = this.blobPath(descriptor.digest);
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      throw layoutInvalid(this.dir, `blob ${descriptor.digest} is missing (${(error as NodeJS.ErrnoException).code ?? error})`, error);
    }
    return handle.createReadStream();
  }

  private blobPath(digest: string): string {
    return join(this.dir, 'blobs', 'sha256', digestHex(digest));
  }

  /** The index.json entry a tag names; without a tag, the only entry. */
  private entryFor(index: ImageIndex, tag: string | undefined): Descriptor {
    const tags = tagsOf(index);
    if (tag === undefined) {
      const [only, ...others] = index.manifests;
      if (only === undefined) throw layoutInvalid(this.dir, 'index.json lists no images');
      if (others.length === 0) return only;
      throw new McpWarmError(
        'REF_INVALID',
        `OCI layout ${this.dir} holds ${index.manifests.length} images; name one as oci:${this.dir}:TAG (tags: ${tags.join(', ') || 'none'})`,
        { details: { dir: this.dir, tags } },
      );
    }
    // As in skopeo, the first entry carrying the tag wins.
    const entry = index.manifests.find((candidate) => candidate.annotations?.[REF_NAME_ANNOTATION] === tag);
    if (entry) return entry;
    throw new McpWarmError('IMAGE_NOT_FOUND', `OCI layout ${this.dir} has no image tagged ${JSON.stringify(tag)} (tags: ${tags.join(', ') || 'none'})`, {
      details: { dir: this.dir, tag, tags },
    });
  }

  private loadIndex(): Promise<ImageIndex> {
    this.index ??= this.readIndex();
    return this.index;
  }

  private async readIndex(): Promise<ImageIndex> {
    const layoutFile = await this.readJson('oci-layout');
    const version = (layoutFile as { imageLayoutVersion?: unknown } | null)?.imageLayoutVersion;
    if (version !== LAYOUT_VERSION) {
      throw layoutInvalid(this.dir, `oci-layout has imageLayoutVersion ${JSON.stringify(version)}, expected "${LAYOUT_VERSION}"`);
    }
    const bytes = await this.readFileIn('index.json');
    let parsed;
    try {
      parsed = parseManifestOrIndex({ digest: sha256Digest(bytes), mediaType: MEDIA_TYPES.ociIndex, bytes }, 'index.json');
    } catch (error) {
      throw layoutInvalid(this.dir, (error as Error).message, error);
    }
    if (parsed.kind !== 'index') throw layoutInvalid(this.dir, 'index.json is not an image index');
    this.remember(parsed.index);
    return parsed.index;
  }

  private remember(index: ImageIndex): void {
    for (const entry of index.manifests) this.knownDescriptors.set(entry.digest, entry);
  }

  private async readJson(name: string): Promise<unknown> {
    const text = (await this.readFileIn(name)).toString('utf8');
    try {
      return JSON.parse(text);
    } catch (error) {
      throw layoutInvalid(this.dir, `${name} is not valid JSON`, error);
    }
  }

  private async readFileIn(name: string): Promise<Buffer> {
    try {
      return await readFile(join(this.dir, name));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw layoutInvalid(this.dir, code === 'ENOENT' ? `no ${name} (is this an OCI image layout?)` : `cannot read ${name}: ${code ?? error}`, error);
    }
  }

  /**
   * A manifest blob, bounded in size. A missing blob that an index lists means a broken layout; a
   * missing digest that nothing lists is simply not there (IMAGE_NOT_FOUND).
   */
  private async readManifestBlob(digest: string, what: string, listed: boolean): Promise<Buffer> {
    let handle: FileHandle;
    try {
      handle = await open(this.blobPath(digest), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !listed) {
        throw new McpWarmError('IMAGE_NOT_FOUND', `${what}: no such blob in the layout`, { details: { dir: this.dir, digest } });
      }
      throw layoutInvalid(this.dir, `${what}: the blob cannot be read (${(error as NodeJS.ErrnoException).code ?? error})`, error);
    }
    try {
      const { size } = await handle.stat();
      if (size > MAX_MANIFEST_BYTES) throw new McpWarmError('MANIFEST_INVALID', `${what} is larger than ${MAX_MANIFEST_BYTES} bytes`);
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }
}

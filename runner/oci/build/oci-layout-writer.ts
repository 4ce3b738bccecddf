/**
 * Writes a built image into an OCI image layout directory (oci-layout, index.json, blobs/sha256),
 * creating the layout or adding to an existing one; an index entry with the same tag is replaced.
 * Blobs and index.json are written to a temporary name and renamed, so a crash never leaves a
 * half-written file under a final name.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { McpWarmError } from '../../errors.js';
import { digestHex } from '../digest.js';
import { MEDIA_TYPES, type Descriptor, type ImageIndex } from '../types.js';
import type { BuiltImage } from './builder.js';

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
const LAYOUT_VERSION = '1.0.0';
// The image-spec grammar for ref.name: components of alphanumerics joined by - . _ : @ + or --, separated by /.
const COMPONENT = '[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*';
const REF_NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

async function atomically(path: string, write: (temporary: string) => Promise<void>): Promise<void> {
  const temporary = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await write(temporary);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

async function readIndex(dir: string): Promise<ImageIndex> {
  const layoutFile = join(dir, 'oci-layout');
  if (!(await exists(layoutFile))) {
    if ((await readdir(dir)).length > 0) {
      throw new McpWarmError('LAYOUT_INVALID', `${dir} is neither empty nor an OCI image layout (no oci-layout file)`, { details: { dir } });
    }
    return { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [] };
  }
  let layout: unknown;
  let index: unknown;
  try {
    layout = JSON.parse(await readFile(layoutFile, 'utf8'));
    index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
  } catch (error) {
    throw new McpWarmError('LAYOUT_INVALID', `${dir}: unreadable oci-layout or index.json: ${(error as Error).message}`, { cause: error, details: { dir } });
  }
  if ((layout as { imageLayoutVersion?: unknown }).imageLayoutVersion !== LAYOUT_VERSION) {
    throw new McpWarmError('LAYOUT_INVALID', `${dir}: expected imageLayoutVersion ${LAYOUT_VERSION} in oci-layout`, { details: { dir } });
  }
  const manifests = (index as { manifests?: unknown }).manifests;
  if ((index as { schemaVersion?: unknown }).schemaVersion !== 2 || !Array.isArray(manifests)) {
    throw new McpWarmError('LAYOUT_INVALID', `${dir}: index.json is not an image index (schemaVersion 2 with a manifests list)`, { details: { dir } });
  }
  return index as ImageIndex;
}

function writeIndex(dir: string, index: ImageIndex): Promise<void> {
  return atomically(join(dir, 'index.json'), (temporary) => writeFile(temporary, `${JSON.stringify(index, null, 2)}\n`));
}

async function writeBlob(blobsDir: string, digest: string, write: (temporary: string) => Promise<void>): Promise<void> {
  const path = join(blobsDir, digestHex(digest));
  if (!(await exists(path))) await atomically(path, write);
}

export async function writeOciLayout(image: BuiltImage, dir: string, tag: string): Promise<void> {
  if (!REF_NAME.test(tag)) {
    throw new McpWarmError('REF_INVALID', `not a valid OCI layout tag (${REF_NAME_ANNOTATION}): ${JSON.stringify(tag)}`, { details: { tag } });
  }
  await mkdir(dir, { recursive: true });
  const index = await readIndex(dir);
  if (!(await exists(join(dir, 'oci-layout')))) {
    // A new layout is made valid (and empty) first, so an interrupted write still leaves a layout.
    await writeIndex(dir, index);
    await atomically(join(dir, 'oci-layout'), (temporary) => writeFile(temporary, JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION })));
  }
  const blobsDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobsDir, { recursive: true });
  for (const layer of image.layers) {
    await writeBlob(blobsDir, layer.descriptor.digest, (temporary) => copyFile(layer.file, temporary));
  }
  await writeBlob(blobsDir, image.config.descriptor.digest, (temporary) => writeFile(temporary, image.config.bytes));
  await writeBlob(blobsDir, image.manifest.digest, (temporary) => writeFile(temporary, image.manifest.bytes));

  const entry: Descriptor = {
    mediaType: image.manifest.mediaType,
    digest: image.manifest.digest,
    size: image.manifest.bytes.length,
    platform: image.platform,
    annotations: { [REF_NAME_ANNOTATION]: tag },
  };
  const others = index.manifests.filter((manifest) => manifest.annotations?.[REF_NAME_ANNOTATION] !== tag);
  await writeIndex(dir, { ...index, manifests: [...others, entry] });
}

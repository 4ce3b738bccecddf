/** Telling manifests from indexes by media type, and checking their shape. */
import { McpWarmError } from '../errors.js';
import { isDigest } from './digest.js';
import {
  INDEX_MEDIA_TYPES,
  MANIFEST_MEDIA_TYPES,
  MEDIA_TYPES,
  type FetchedManifest,
  type ImageIndex,
  type ImageManifest,
} from './types.js';

export type ParsedManifest = { kind: 'manifest'; manifest: ImageManifest } | { kind: 'index'; index: ImageIndex };

/** Registries cap manifests at 4 MiB; a larger answer is refused before it is held in memory. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const SCHEMA1_MEDIA_TYPES = [
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
];
/** Content types that say nothing about which manifest format the body is. */
const GENERIC_CONTENT_TYPES = ['', 'application/json', 'text/plain', 'application/octet-stream'];

function isSupported(mediaType: string): boolean {
  return MANIFEST_MEDIA_TYPES.includes(mediaType) || INDEX_MEDIA_TYPES.includes(mediaType);
}

function unsupported(mediaType: string, what: string): McpWarmError {
  const schema1 = SCHEMA1_MEDIA_TYPES.includes(mediaType) ? ' (Docker schema 1 manifests are obsolete)' : '';
  return new McpWarmError('MANIFEST_UNSUPPORTED', `${what} has media type ${JSON.stringify(mediaType)}${schema1}`, {
    details: { mediaType },
  });
}

/** The media type a body's own fields imply: its `mediaType`, else its shape (OCI allows omitting it). */
function impliedMediaType(bytes: Buffer): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const { mediaType, schemaVersion, manifests, config, layers } = body as Record<string, unknown>;
  if (typeof mediaType === 'string') return mediaType;
  if (schemaVersion === 1) return SCHEMA1_MEDIA_TYPES[0];
  if (Array.isArray(manifests)) return MEDIA_TYPES.ociIndex;
  if (config !== undefined && Array.isArray(layers)) return MEDIA_TYPES.ociManifest;
  return undefined;
}

/**
 * The media type of a manifest whose source declared `declared` (a Content-Type or a descriptor's
 * mediaType, possibly absent or generic). Anything but OCI and Docker schema 2 manifests and indexes
 * is MANIFEST_UNSUPPORTED.
 */
export function resolveManifestMediaType(declared: string | undefined, bytes: Buffer, what: string): string {
  const type = (declared ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (isSupported(type)) return type;
  if (!GENERIC_CONTENT_TYPES.includes(type)) throw unsupported(type, what);
  const implied = impliedMediaType(bytes);
  if (implied === undefined) throw unsupported(type === '' ? '(none)' : type, what);
  if (!isSupported(implied)) throw unsupported(implied, what);
  return implied;
}

function invalid(what: string, problem: string): McpWarmError {
  return new McpWarmError('MANIFEST_INVALID', `${what}: ${problem}`);
}

function isRecordOfStrings(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

function checkDescriptor(value: unknown, where: string, what: string): void {
  if (typeof value !== 'object' || value === null) throw invalid(what, `${where} is not an object`);
  const { mediaType, digest, size, urls, annotations, platform } = value as Record<string, unknown>;
  if (typeof mediaType !== 'string' || mediaType === '') throw invalid(what, `${where}.mediaType is missing`);
  if (typeof digest !== 'string' || !isDigest(digest)) {
    throw invalid(what, `${where}.digest ${JSON.stringify(digest)} is not sha256:<64 hex> (other algorithms are not supported)`);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(what, `${where}.size is not a non-negative integer`);
  if (urls !== undefined && !(Array.isArray(urls) && urls.every((url) => typeof url === 'string'))) {
    throw invalid(what, `${where}.urls is not a list of strings`);
  }
  if (annotations !== undefined && !isRecordOfStrings(annotations)) throw invalid(what, `${where}.annotations is not a map of strings`);
  if (platform !== undefined) {
    const { os, architecture } = (typeof platform === 'object' && platform !== null ? platform : {}) as Record<string, unknown>;
    if (typeof os !== 'string' || typeof architecture !== 'string') throw invalid(what, `${where}.platform needs os and architecture`);
  }
}

/** Parses and checks the shape of a manifest or index whose media type `fetched.mediaType` names. */
export function parseManifestOrIndex(fetched: FetchedManifest, what = `manifest ${fetched.digest}`): ParsedManifest {
  let body: unknown;
  try {
    body = JSON.parse(fetched.bytes.toString('utf8'));
  } catch (error) {
    throw invalid(what, `not valid JSON (${(error as Error).message})`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid(what, 'not a JSON object');
  const { schemaVersion, mediaType, manifests, config, layers, annotations } = body as Record<string, unknown>;
  if (schemaVersion !== 2) throw invalid(what, `schemaVersion is ${JSON.stringify(schemaVersion)}, expected 2`);
  if (mediaType !== undefined && mediaType !== fetched.mediaType) {
    throw invalid(what, `its mediaType ${JSON.stringify(mediaType)} differs from the declared ${fetched.mediaType}`);
  }
  if (annotations !== undefined && !isRecordOfStrings(annotations)) throw invalid(what, 'annotations is not a map of strings');
  if (INDEX_MEDIA_TYPES.includes(fetched.mediaType)) {
    if (!Array.isArray(manifests)) throw invalid(what, 'an index needs a "manifests" list');
    manifests.forEach((entry, i) => checkDescriptor(entry, `manifests[${i}]`, what));
    return { kind: 'index', index: body as ImageIndex };
  }
  if (MANIFEST_MEDIA_TYPES.includes(fetched.mediaType)) {
    checkDescriptor(config, 'config', what);
    if (!Array.isArray(layers)) throw invalid(what, 'a manifest needs a "layers" list');
    layers.forEach((entry, i) => checkDescriptor(entry, `layers[${i}]`, what));
    return { kind: 'manifest', manifest: body as ImageManifest };
  }
  throw unsupported(fetched.mediaType, what);
}

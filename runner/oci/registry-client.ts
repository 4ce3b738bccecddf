/**
 * A client for one repository of an OCI distribution (Docker registry v2) API: pull manifests and
 * blobs, push blobs and manifests. Handles bearer and Basic auth, retries with backoff, and resumes
 * blob downloads cut mid-body with Range requests.
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpWarmError } from '../errors.js';
import { RegistryAuthenticator } from './auth.js';
import { digestHex, isDigest, sha256Digest, verifyContent } from './digest.js';
import { MAX_MANIFEST_BYTES, resolveManifestMediaType } from './manifest.js';
import { answeredPlainHttp, plainHttpAllowed, plainHttpRefused, type PlainHttpPolicy } from './insecure-registries.js';
import { DEFAULT_TAG, formatReference, isValidTag, registryApiHost, type ImageReference } from './reference.js';
import type { ImageSource } from './source.js';
import { INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, type Descriptor, type FetchedManifest } from './types.js';

export interface RetryPolicy {
  /** Tries per request, the first included (1: no retries). Also bounds Range resumes of one blob. */
  attempts: number;
  /** Backoff before retry n is between half and all of baseDelayMs * 2^(n-1), capped. */
  baseDelayMs: number;
}

export interface RegistryClientOptions extends PlainHttpPolicy {
  /** Force a scheme. Default: https, or http where plain HTTP is allowed (loopback, `insecure`, `insecureRegistries`). */
  scheme?: 'https' | 'http';
  /** Where credentials are read from; default `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`. */
  dockerConfigPath?: string;
  retry?: RetryPolicy;
}

type Access = 'pull' | 'push';

const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 250 };
const MAX_BACKOFF_MS = 10_000;
const MAX_RETRY_AFTER_MS = 30_000;
const RETRYABLE_STATUSES = new Set([429, 500, 502, 503, 504]);
const MANIFEST_ACCEPT = [...MANIFEST_MEDIA_TYPES, ...INDEX_MEDIA_TYPES].join(', ');

/** The scheme to talk to `registry` with; REGISTRY_INSECURE_REFUSED for plain HTTP to a remote host not marked insecure. */
export function registryScheme(registry: string, options: Pick<RegistryClientOptions, 'insecure' | 'insecureRegistries' | 'scheme'>): 'https' | 'http' {
  const plainAllowed = plainHttpAllowed(registry, options);
  const scheme = options.scheme ?? (plainAllowed ? 'http' : 'https');
  if (scheme === 'http' && !plainAllowed) {
    throw new McpWarmError('REGISTRY_INSECURE_REFUSED', `refusing plain HTTP to ${registry}: it is not a loopback registry and was not marked insecure`, {
      details: { registry },
    });
  }
  return scheme;
}

/** Exponential backoff with jitter: between half and all of the doubled delay. */
export function backoffDelay(attempt: number, baseDelayMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** A `Retry-After` header (seconds or an HTTP date) in milliseconds, bounded; undefined when absent or unreadable. */
export function retryAfterDelay(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  const trimmed = header.trim();
  const delay = /^\d+$/.test(trimmed) ? Number(trimmed) * 1000 : Date.parse(trimmed) - now;
  return Number.isNaN(delay) ? undefined : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, delay));
}

function withHeaders(init: RequestInit, headers: Record<string, string | undefined>): RequestInit {
  const merged = new Headers(init.headers);
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) merged.set(name, value);
  return { ...init, headers: merged };
}

async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

/** The registry's error list (`{"errors":[{code,message}]}`) or the start of the body, for messages. */
async function errorDetail(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const { errors } = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
    if (Array.isArray(errors) && errors.length > 0) return errors.map((e) => `${e.code ?? '?'}: ${e.message ?? ''}`).join('; ');
  } catch {
    // not the registry's JSON error format
  }
  return text.trim().slice(0, 200) || '(no body)';
}

function connectionProblem(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

export class RegistryClient implements ImageSource {
  readonly displayName: string;
  readonly location: string;
  private readonly origin: string;
  private readonly retry: RetryPolicy;
  private readonly auth: RegistryAuthenticator;

  constructor(
    readonly ref: ImageReference,
    options: RegistryClientOptions = {},
  ) {
    this.displayName = formatReference(ref);
    this.location = `${ref.registry}/${ref.repository}`;
    this.origin = new URL(`${registryScheme(ref.registry, options)}://${registryApiHost(ref.registry)}`).origin;
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.auth = new RegistryAuthenticator(ref.registry, {
      dockerConfigPath: options.dockerConfigPath,
      plainHttp: options,
      send: (url, init) => this.send(url, init),
    });
  }

  async getManifest(reference?: string): Promise<FetchedManifest> {
    const target = reference ?? this.ref.digest ?? this.ref.tag ?? DEFAULT_TAG;
    const what = `manifest ${target} of ${this.location}`;
    const response = await this.request(this.manifestUrl(target), { method: 'GET', headers: { accept: MANIFEST_ACCEPT } }, 'pull');
    if (!response.ok) throw await this.statusError(response, what);
    const bytes = await this.readManifestBody(response, what);
    const digest = sha256Digest(bytes);
    if (isDigest(target) && digest !== target) {
      throw new McpWarmError('BLOB_DIGEST_MISMATCH', `${what}: the registry sent bytes whose digest is ${digest}`, {
        details: { expected: target, actual: digest },
      });
    }
    this.checkAnnouncedDigest(response, digest, what);
    return { digest, mediaType: resolveManifestMediaType(response.headers.get('content-type') ?? undefined, bytes, what), bytes };
  }

  async openBlob(descriptor: Descriptor): Promise<Readable> {
    const url = this.blobUrl(descriptor.digest);
    const first = await this.request(url, { method: 'GET' }, 'pull');
    if (!first.ok) throw await this.statusError(first, `blob ${descriptor.digest} of ${this.location}`);
    return Readable.from(this.blobChunks(url, descriptor, first), { objectMode: false });
  }

  async hasBlob(digest: string): Promise<boolean> {
    const response = await this.request(this.blobUrl(digest), { method: 'HEAD' }, 'pull');
    if (response.status !== 404 && !response.ok) throw await this.statusError(response, `blob ${digest} of ${this.location}`);
    await discard(response);
    return response.ok;
  }

  /** Uploads a blob (POST to start, then one monolithic PUT), unless the registry already has it. */
  async pushBlob(descriptor: Descriptor, data: Buffer): Promise<void> {
    const what = `blob ${descriptor.digest} for ${this.location}`;
    verifyContent(data, descriptor, what);
    if (await this.hasBlob(descriptor.digest)) return;
    const start = await this.request(this.apiUrl('blobs/uploads/'), { method: 'POST' }, 'push');
    if (start.status !== 202) throw await this.statusError(start, `upload of ${what}`);
    await discard(start);
    const location = start.headers.get('location');
    if (!location) throw new McpWarmError('REGISTRY_PROTOCOL', `POST ${start.url} answered 202 without a Location for the upload`);
    const uploadUrl = new URL(location, start.url);
    uploadUrl.searchParams.set('digest', descriptor.digest);
    const put = await this.request(
      uploadUrl,
      { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: data },
      'push',
    );
    if (put.status !== 201) throw await this.statusError(put, `upload of ${what}`);
    await discard(put);
  }

  /** Stores a manifest or index under a tag or its digest; resolves to its digest. */
  async putManifest(tagOrDigest: string, bytes: Buffer, mediaType: string): Promise<string> {
    const digest = sha256Digest(bytes);
    const what = `manifest ${tagOrDigest} for ${this.location}`;
    if (isDigest(tagOrDigest) && tagOrDigest !== digest) {
      throw new McpWarmError('BLOB_DIGEST_MISMATCH', `${what}: the bytes hash to ${digest}`, { details: { expected: tagOrDigest, actual: digest } });
    }
    const response = await this.request(
      this.manifestUrl(tagOrDigest),
      { method: 'PUT', headers: { 'content-type': mediaType }, body: bytes },
      'push',
    );
    if (response.status !== 201) throw await this.statusError(response, what);
    await discard(response);
    this.checkAnnouncedDigest(response, digest, what);
    return digest;
  }

  private apiUrl(path: string): URL {
    return new URL(`${this.origin}/v2/${this.ref.repository}/${path}`);
  }

  private blobUrl(digest: string): URL {
    digestHex(digest);
    return this.apiUrl(`blobs/${digest}`);
  }

  private manifestUrl(reference: string): URL {
    if (!isDigest(reference) && !isValidTag(reference)) {
      throw new McpWarmError('REF_INVALID', `${JSON.stringify(reference)} is neither a tag nor a sha256 digest`);
    }
    return this.apiUrl(`manifests/${reference}`);
  }

  /** `Docker-Content-Digest` is never trusted alone, but a registry that contradicts the bytes is not trusted at all. */
  private checkAnnouncedDigest(response: Response, digest: string, what: string): void {
    const announced = response.headers.get('docker-content-digest');
    if (announced !== null && announced.startsWith('sha256:') && announced !== digest) {
      throw new McpWarmError('BLOB_DIGEST_MISMATCH', `${what}: the registry announced ${announced} for bytes whose digest is ${digest}`, {
        details: { expected: announced, actual: digest },
      });
    }
  }

  private async readManifestBody(response: Response, what: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of response.body ?? []) {
      length += chunk.byteLength;
      if (length > MAX_MANIFEST_BYTES) {
        throw new McpWarmError('MANIFEST_INVALID', `${what} is larger than ${MAX_MANIFEST_BYTES} bytes`);
      }
      chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks);
  }

  /**
   * The blob's bytes from `first` on. When the body breaks off early and the registry said it
   * serves ranges (`Accept-Ranges: bytes`), the rest is requested with `Range`, within the retry
   * budget; otherwise the stream fails with BLOB_SIZE_MISMATCH.
   */
  private async *blobChunks(url: URL, descriptor: Descriptor, first: Response): AsyncGenerator<Buffer> {
    const resumable = first.headers.get('accept-ranges')?.toLowerCase() === 'bytes';
    let response = first;
    let received = 0;
    for (let resumes = 0; ; resumes += 1) {
      let cause: unknown;
      try {
        for await (const chunk of response.body ?? []) {
          received += chunk.byteLength;
          yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        }
      } catch (error) {
        cause = error;
      }
      if (cause === undefined && received >= descriptor.size) return;
      const cut = `blob ${descriptor.digest}: the transfer from ${url.href} broke off after ${received} of ${descriptor.size} bytes`;
      const reason = cause === undefined ? 'the body ended early' : connectionProblem(cause);
      if (!resumable || resumes + 1 >= this.retry.attempts) {
        const why = resumable ? 'out of retries' : 'the registry does not serve ranges';
        throw new McpWarmError('BLOB_SIZE_MISMATCH', `${cut} (${reason}; ${why})`, {
          cause,
          details: { digest: descriptor.digest, expectedSize: descriptor.size, actualSize: received },
        });
      }
      await sleep(backoffDelay(resumes + 1, this.retry.baseDelayMs));
      response = await this.request(url, { method: 'GET', headers: { range: `bytes=${received}-` } }, 'pull');
      if (response.status !== 206 || !response.headers.get('content-range')?.startsWith(`bytes ${received}-`)) {
        await discard(response);
        throw new McpWarmError('BLOB_SIZE_MISMATCH', `${cut}, and resuming with Range got HTTP ${response.status} instead of the rest`, {
          details: { digest: descriptor.digest, expectedSize: descriptor.size, actualSize: received },
        });
      }
    }
  }

  /** One request with authorization: offers what earlier challenges taught, answers one 401 challenge. */
  private async request(url: URL, init: RequestInit, access: Access): Promise<Response> {
    const scope = `repository:${this.ref.repository}:${access === 'push' ? 'pull,push' : 'pull'}`;
    // Credentials go only to the registry itself, never to a host an upload Location points at.
    if (url.origin !== this.origin) return this.send(url, init);
    let authorization = await this.auth.authorizationFor(scope);
    let response = await this.send(url, withHeaders(init, { authorization }));
    if (response.status !== 401) return response;
    await discard(response);
    authorization = await this.auth.respondTo(response.headers.get('www-authenticate'), scope, authorization);
    response = await this.send(url, withHeaders(init, { authorization }));
    if (response.status !== 401) return response;
    await discard(response);
    throw this.auth.refused(`${init.method ?? 'GET'} ${url.href}`, authorization);
  }

  /**
   * One request with retries: 5xx, 429 (after its Retry-After, bounded) and connection failures are
   * retried with backoff. Redirects are followed; fetch drops Authorization on cross-origin ones.
   */
  private async send(url: URL, init: RequestInit): Promise<Response> {
    const { attempts, baseDelayMs } = this.retry;
    for (let attempt = 1; ; attempt += 1) {
      let response: Response;
      try {
        response = await fetch(url, { ...init, redirect: 'follow' });
      } catch (error) {
        // A plain-HTTP server on an HTTPS URL: retrying cannot help, and falling back to HTTP is not ours to decide.
        if (url.protocol === 'https:' && answeredPlainHttp(error)) throw plainHttpRefused(this.ref.registry, url, error);
        if (attempt >= attempts) {
          throw new McpWarmError('REGISTRY_UNREACHABLE', `${init.method ?? 'GET'} ${url.href} failed after ${attempt} attempt(s): ${connectionProblem(error)}`, {
            cause: error,
            details: { url: url.href, attempts: attempt },
          });
        }
        await sleep(backoffDelay(attempt, baseDelayMs));
        continue;
      }
      if (!RETRYABLE_STATUSES.has(response.status)) return response;
      const detail = await errorDetail(response);
      if (attempt >= attempts) {
        throw new McpWarmError('REGISTRY_UNAVAILABLE', `${init.method ?? 'GET'} ${url.href} answered HTTP ${response.status} ${attempt} time(s): ${detail}`, {
          details: { url: url.href, status: response.status, attempts: attempt },
        });
      }
      await sleep(retryAfterDelay(response.headers.get('retry-after')) ?? backoffDelay(attempt, baseDelayMs));
    }
  }

  private async statusError(response: Response, what: string): Promise<McpWarmError> {
    const detail = await errorDetail(response);
    const details = { status: response.status, url: response.url };
    if (response.status === 404) return new McpWarmError('IMAGE_NOT_FOUND', `${what} was not found in ${this.ref.registry} (${detail})`, { details });
    if (response.status === 401 || response.status === 403) {
      return new McpWarmError('REGISTRY_AUTH_FAILED', `${what}: access denied (HTTP ${response.status}: ${detail})`, { details });
    }
    if (response.status >= 500) return new McpWarmError('REGISTRY_UNAVAILABLE', `${what}: HTTP ${response.status} (${detail})`, { details });
    return new McpWarmError('REGISTRY_PROTOCOL', `${what}: unexpected HTTP ${response.status} (${detail})`, { details });
  }
}

import type { Readable } from 'node:stream';
import type { Descriptor, FetchedManifest } from './types.js';

/**
 * Where an image comes from: a registry (v2 distribution API) or an OCI image layout directory.
 * The puller only talks to this interface; it verifies every byte it receives against digests.
 */
export interface ImageSource {
  /** The reference as the user would write it, for messages and records. */
  readonly displayName: string;
  /** Key that separates sources in records (registry/repository, or the layout's directory). */
  readonly location: string;
  /**
   * The manifest or index that `reference` (a tag or a digest) names; without it, the one the
   * source's own reference names. The returned digest is computed over the returned bytes, and
   * a digest-pinned reference whose bytes do not match fails with BLOB_DIGEST_MISMATCH.
   */
  getManifest(reference?: string): Promise<FetchedManifest>;
  /** A blob's raw bytes as a stream. Not verified here: callers pipe it through DigestVerifier. */
  openBlob(descriptor: Descriptor): Promise<Readable>;
}

/** Opens what a user names as an image source: a registry reference or `oci:DIR[:TAG]`. */
import { OciLayoutSource } from './layout-source.js';
import { parseSourceReference } from './reference.js';
import { RegistryClient, type RegistryClientOptions } from './registry-client.js';
import type { ImageSource } from './source.js';

/** Registry options apply to registry references; a layout directory needs none. */
export function openImageSource(input: string, options: RegistryClientOptions = {}): ImageSource {
  const source = parseSourceReference(input);
  return source.kind === 'registry' ? new RegistryClient(source.ref, options) : new OciLayoutSource(source.dir, source.tag);
}

/**
 * OCI whiteouts (image-spec layer.md): `.wh.NAME` deletes NAME from the lower layers,
 * `.wh..wh..opq` in a directory hides everything the lower layers put in that directory.
 * Other `.wh..wh.` names are AUFS bookkeeping (hardlink directories) and carry no content.
 */
import { baseName, parentPath } from './safe-path.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
const AUFS_META_PREFIX = '.wh..wh.';

export type WhiteoutClass =
  /** `path` (in the lower layers) is deleted. */
  | { kind: 'whiteout'; path: string }
  /** The directory `path` hides the lower layers' contents. */
  | { kind: 'opaque'; path: string }
  /** AUFS metadata: skipped. */
  | { kind: 'aufs-meta' }
  /** `.wh.`, `.wh..`, `.wh...`: names no entry of its directory. */
  | { kind: 'invalid' };

/** How a normalized entry path acts as a whiteout, or undefined for an ordinary entry. */
export function classifyWhiteout(path: string): WhiteoutClass | undefined {
  const name = baseName(path);
  if (!name.startsWith(WHITEOUT_PREFIX)) return undefined;
  if (name === OPAQUE_MARKER) return { kind: 'opaque', path: parentPath(path) };
  if (name.startsWith(AUFS_META_PREFIX)) return { kind: 'aufs-meta' };
  const hidden = name.slice(WHITEOUT_PREFIX.length);
  if (hidden === '' || hidden === '.' || hidden === '..') return { kind: 'invalid' };
  const parent = parentPath(path);
  return { kind: 'whiteout', path: parent === '' ? hidden : `${parent}/${hidden}` };
}

/**
 * The host's Node.js runtime as layer entries: the node binary and its shared libraries at their
 * host paths (host-binaries.ts), and /usr/local/bin/node leading to it.
 */
import { realpath } from 'node:fs/promises';
import { hostBinaryEntries } from './host-binaries.js';
import type { LayerEntry } from './layers.js';

/** Where images built here always have node, whatever the host's layout. */
export const IMAGE_NODE_PATH = '/usr/local/bin/node';

/** The entries of the node runtime layer for the running node (`execPath`). */
export async function nodeRuntimeEntries(execPath: string = process.execPath): Promise<LayerEntry[]> {
  const binary = await realpath(execPath);
  const entries = await hostBinaryEntries([execPath]);
  if (!entries.has(IMAGE_NODE_PATH)) {
    entries.set(IMAGE_NODE_PATH, { type: 'symlink', path: IMAGE_NODE_PATH, target: binary, uid: 0, gid: 0 });
  }
  return [...entries.values()];
}

/**
 * A digest of everything a spec's build would read, taken without building: the spec's settings
 * and, for every layer, each entry it would write with its metadata and the digest of its content.
 * An npm layer that runs `npm ci` stands for its package.json and package-lock.json (what it
 * installs is pinned by them), so nothing is installed. Host paths of inputs do not count, only what is read from them:
 * the same tree in another checkout has the same fingerprint.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { layerChanges } from './builder.js';
import type { EntryContent } from './layers.js';
import { loadImageSpec, type LayerSpec } from './spec.js';

const LARGE_FILE_BYTES = 8 * 1024 * 1024;
const CONCURRENT_READS = 16;

async function contentDigest(content: EntryContent): Promise<string> {
  const hash = createHash('sha256');
  if ('data' in content) hash.update(content.data);
  else if ((await stat(content.hostPath)).size < LARGE_FILE_BYTES) hash.update(await readFile(content.hostPath));
  else await pipeline(createReadStream(content.hostPath), hash);
  return hash.digest('hex');
}

/** `work` over every item, at most `limit` at a time, results in the items' order. */
async function mapBounded<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < items.length; index = next++) results[index] = await work(items[index]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function addLayer(hash: Hash, layer: LayerSpec): Promise<void> {
  if (layer.kind === 'npm' && !layer.installed) {
    const manifests = await Promise.all(['package.json', 'package-lock.json'].map((name) => readFile(join(layer.project, name))));
    hash.update(JSON.stringify({ kind: 'npm', to: layer.to, manifests: manifests.map((bytes) => createHash('sha256').update(bytes).digest('hex')) }));
    return;
  }
  // Only `npm ci` uses the work directory.
  const changes = await layerChanges(layer, '/nonexistent');
  hash.update(JSON.stringify({ kind: layer.kind, delete: changes.delete, opaque: changes.opaque }));
  const entries = [...changes.entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const digests = await mapBounded(entries, CONCURRENT_READS, async (entry) => (entry.type === 'file' ? contentDigest(entry.content) : undefined));
  entries.forEach((entry, index) => {
    const { content: _content, ...metadata } = entry.type === 'file' ? entry : { ...entry, content: undefined };
    hash.update(JSON.stringify({ ...metadata, content: digests[index] }));
  });
}

/** `sha256:<hex>` over the spec's settings and the content of every input it names. */
export async function specFingerprint(specPath: string): Promise<string> {
  const spec = await loadImageSpec(specPath);
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ platform: spec.platform, created: spec.created, config: spec.config }));
  for (const layer of spec.layers) await addLayer(hash, layer);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * Builds a deterministic OCI image from a spec file: the same spec and inputs give the same
 * manifest digest on every run. Layer blobs are written to a scratch directory (compressed while
 * the next layer is being prepared); the config and manifest stay in memory. On failure the
 * scratch directory is removed before the coded error is thrown.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McpWarmError, isMcpWarmError } from '../../errors.js';
import { MEDIA_TYPES, type Descriptor, type FetchedManifest, type Platform } from '../types.js';
import { describeLayer, descriptorOf, imageConfigBytes, manifestBytes } from './image-json.js';
import { writeLayerBlob, type LayerBlob } from './layer-blob.js';
import { planLayer, type ImageTree } from './layer-plan.js';
import { hostCommandEntries } from './host-binaries.js';
import { baseLayerEntries, fileItemEntries, hostTreeEntries, type LayerChanges } from './layers.js';
import { nodeRuntimeEntries } from './node-runtime.js';
import { installedPackagesEntries, npmLayerEntries } from './npm-layer.js';
import { loadImageSpec, type LayerSpec } from './spec.js';

export interface BuildOptions {
  /** Directory in which the build's scratch directory is made (default: the OS temp directory). */
  scratchParent?: string;
}

export interface BuiltImage {
  platform: Platform;
  manifest: FetchedManifest;
  config: { descriptor: Descriptor; bytes: Buffer };
  layers: LayerBlob[];
  /** Holds the layer blobs until `cleanup()`. */
  scratchDir: string;
  cleanup(): Promise<void>;
}

/** Runs a build step; a failure without a code of its own (such as TOOL_MISSING) becomes BUILD_STEP_FAILED naming the step. */
async function step<T>(name: string, action: () => Promise<T> | T): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (isMcpWarmError(error)) throw error;
    throw new McpWarmError('BUILD_STEP_FAILED', `${name}: ${(error as Error).message}`, { cause: error, details: { step: name } });
  }
}

/** What a layer of the spec writes; `workDir` is scratch space for the npm install. */
export async function layerChanges(layer: LayerSpec, workDir: string): Promise<LayerChanges> {
  const only = (entries: LayerChanges['entries']): LayerChanges => ({ entries, delete: [], opaque: [] });
  switch (layer.kind) {
    case 'base':
      return only(baseLayerEntries());
    case 'nodeRuntime':
      return only(await nodeRuntimeEntries());
    case 'npm':
      return only(layer.installed ? await installedPackagesEntries(layer.project, layer.to) : await npmLayerEntries(layer.project, layer.to, workDir));
    case 'hostBinaries':
      return only(await hostCommandEntries(layer.commands));
    case 'tree':
      return only(await hostTreeEntries(layer.source, layer.to));
    case 'changes':
      return { entries: fileItemEntries(layer.files), delete: layer.delete, opaque: layer.opaque };
  }
}

export async function buildImage(specPath: string, options: BuildOptions = {}): Promise<BuiltImage> {
  const spec = await loadImageSpec(specPath);
  const scratchDir = await step('creating the scratch directory', () => mkdtemp(join(options.scratchParent ?? tmpdir(), 'mcpwarm-build-')));
  const writes: Array<Promise<LayerBlob>> = [];
  try {
    let tree: ImageTree = new Map();
    for (const [index, layer] of spec.layers.entries()) {
      const name = `${layer.field} (${describeLayer(layer, spec.file)})`;
      const workDir = join(scratchDir, `work-${index}`);
      const changes = await step(name, () => layerChanges(layer, workDir));
      const plan = await step(name, () => planLayer(tree, changes));
      tree = plan.tree;
      const write = step(name, () => writeLayerBlob(plan.entries, spec.mtime, join(scratchDir, `layer-${index}.tar.gz`))).finally(() =>
        rm(workDir, { recursive: true, force: true }),
      );
      // Awaited below with the others; marked handled now so an early failure is not "unhandled".
      write.catch(() => undefined);
      writes.push(write);
    }
    const layers = await Promise.all(writes);
    const configBytes = imageConfigBytes(spec, layers.map((layer) => layer.diffId));
    const config = descriptorOf(MEDIA_TYPES.ociConfig, configBytes);
    const manifest = manifestBytes(config, layers.map((layer) => layer.descriptor));
    return {
      platform: spec.platform,
      manifest: { digest: descriptorOf(MEDIA_TYPES.ociManifest, manifest).digest, mediaType: MEDIA_TYPES.ociManifest, bytes: manifest },
      config: { descriptor: config, bytes: configBytes },
      layers,
      scratchDir,
      cleanup: () => rm(scratchDir, { recursive: true, force: true }),
    };
  } catch (error) {
    await Promise.allSettled(writes);
    await rm(scratchDir, { recursive: true, force: true });
    throw error;
  }
}

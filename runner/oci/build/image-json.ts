/**
 * The image config and manifest of a build, as the exact bytes that get digested. Only the spec
 * and the layer digests go in: no host names, build times or tool versions.
 */
import { dirname, relative } from 'node:path';
import { sha256Digest } from '../digest.js';
import { MEDIA_TYPES, type ContainerConfig, type Descriptor, type ImageConfig, type ImageManifest } from '../types.js';
import type { ImageSpec, LayerSpec } from './spec.js';

/** What images usually carry, so runtimes and `node` child processes find programs. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A layer in words, for history entries and build step names; never host-specific. */
export function describeLayer(layer: LayerSpec, specFile: string): string {
  switch (layer.kind) {
    case 'base':
    case 'nodeRuntime':
      return layer.kind;
    case 'npm':
      return `npm ${relative(dirname(specFile), layer.project) || '.'}${layer.installed ? ' (installed)' : ''} -> ${layer.to}`;
    case 'hostBinaries':
      return `hostBinaries ${layer.commands.join(' ')}`;
    case 'tree':
      return `tree ${relative(dirname(specFile), layer.source) || '.'} -> ${layer.to}`;
    case 'changes': {
      const parts = [
        layer.files.length > 0 ? `files ${layer.files.map((item) => item.path).join(' ')}` : '',
        layer.delete.length > 0 ? `delete ${layer.delete.join(' ')}` : '',
        layer.opaque.length > 0 ? `opaque ${layer.opaque.join(' ')}` : '',
      ];
      return parts.filter(Boolean).join('; ');
    }
  }
}

function containerConfig(spec: ImageSpec): ContainerConfig {
  const { entrypoint, cmd, env, workingDir, user, labels } = spec.config;
  const environment = { PATH: DEFAULT_PATH, ...env };
  const config: ContainerConfig = { Env: Object.entries(environment).map(([name, value]) => `${name}=${value}`) };
  if (entrypoint !== undefined) config.Entrypoint = entrypoint;
  if (cmd !== undefined) config.Cmd = cmd;
  if (workingDir !== undefined) config.WorkingDir = workingDir;
  if (user !== undefined) config.User = user;
  if (Object.keys(labels).length > 0) config.Labels = labels;
  return config;
}

export function imageConfigBytes(spec: ImageSpec, diffIds: readonly string[]): Buffer {
  const { os, architecture, variant } = spec.platform;
  const config: ImageConfig = {
    created: spec.created,
    architecture,
    os,
    ...(variant === undefined ? {} : { variant }),
    config: containerConfig(spec),
    rootfs: { type: 'layers', diff_ids: [...diffIds] },
    history: spec.layers.map((layer) => ({ created: spec.created, created_by: `mcpwarm build: ${describeLayer(layer, spec.file)}` })),
  };
  return Buffer.from(JSON.stringify(config), 'utf8');
}

export function descriptorOf(mediaType: string, bytes: Buffer): Descriptor {
  return { mediaType, digest: sha256Digest(bytes), size: bytes.length };
}

export function manifestBytes(config: Descriptor, layers: readonly Descriptor[]): Buffer {
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
  };
  return Buffer.from(JSON.stringify(manifest), 'utf8');
}

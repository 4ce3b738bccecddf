/**
 * A built image as a `docker load` archive (the format `docker save` writes): manifest.json naming
 * the config and the layer files, with the image's tags. Docker Engines before 25 load only this
 * format, not OCI layouts. Layers go in as the builder compressed them (docker load inflates them);
 * the image ID an engine gives it is the config's digest, as for a pull.
 */
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { digestHex } from '../digest.js';
import { tarStream, type TarEntry } from '../tar-writer.js';
import type { BuiltImage } from './builder.js';

export interface DockerArchiveManifestEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

/** The archive's manifest.json: one image, its files named by digest. */
export function dockerArchiveManifest(image: Pick<BuiltImage, 'config' | 'layers'>, tags: readonly string[]): DockerArchiveManifestEntry[] {
  return [
    {
      Config: `${digestHex(image.config.descriptor.digest)}.json`,
      RepoTags: [...tags],
      Layers: image.layers.map((layer) => `${digestHex(layer.descriptor.digest)}/layer.tar.gz`),
    },
  ];
}

/** The archive as a stream; each layer file is read when its turn comes. */
export function dockerArchiveStream(image: Pick<BuiltImage, 'config' | 'layers'>, tags: readonly string[]): Readable {
  const [manifest] = dockerArchiveManifest(image, tags);
  async function* entries(): AsyncGenerator<TarEntry> {
    yield { path: manifest!.Config, type: 'file', mode: 0o644, data: image.config.bytes };
    for (const [index, layer] of image.layers.entries()) {
      const path = manifest!.Layers[index]!;
      yield { path: `${path.slice(0, path.indexOf('/'))}/`, type: 'directory', mode: 0o755 };
      yield { path, type: 'file', mode: 0o644, data: await readFile(layer.file) };
    }
    yield { path: 'manifest.json', type: 'file', mode: 0o644, data: Buffer.from(JSON.stringify([manifest])) };
  }
  return tarStream(entries());
}

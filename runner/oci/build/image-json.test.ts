import { describe, expect, it } from 'vitest';
import { sha256Digest } from '../digest.js';
import { MEDIA_TYPES } from '../types.js';
import { DEFAULT_PATH, describeLayer, descriptorOf, imageConfigBytes, manifestBytes } from './image-json.js';
import type { ImageSpec } from './spec.js';

const spec: ImageSpec = {
  file: '/repo/scenarios/images/x.image.yaml',
  platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
  created: '2026-01-01T00:00:00Z',
  mtime: 1767225600,
  layers: [
    { kind: 'base', field: 'layers[0]' },
    { kind: 'npm', field: 'layers[1]', project: '/repo/scenarios/images/npm/everything', to: '/app' },
    { kind: 'changes', field: 'layers[2]', files: [], delete: ['/a', '/b'], opaque: ['/c'] },
  ],
  config: { entrypoint: ['/usr/local/bin/node'], cmd: [], env: { NODE_ENV: 'production' }, user: '1000:1000', labels: {} },
};

describe('image JSON', () => {
  it('writes the config from the spec alone, in a fixed key order', () => {
    const bytes = imageConfigBytes(spec, ['sha256:aa', 'sha256:bb', 'sha256:cc']);
    expect(bytes.toString()).toBe(
      JSON.stringify({
        created: '2026-01-01T00:00:00Z',
        architecture: 'arm64',
        os: 'linux',
        variant: 'v8',
        config: { Env: [`PATH=${DEFAULT_PATH}`, 'NODE_ENV=production'], Entrypoint: ['/usr/local/bin/node'], Cmd: [], User: '1000:1000' },
        rootfs: { type: 'layers', diff_ids: ['sha256:aa', 'sha256:bb', 'sha256:cc'] },
        history: [
          { created: '2026-01-01T00:00:00Z', created_by: 'mcpwarm build: base' },
          { created: '2026-01-01T00:00:00Z', created_by: 'mcpwarm build: npm npm/everything -> /app' },
          { created: '2026-01-01T00:00:00Z', created_by: 'mcpwarm build: delete /a /b; opaque /c' },
        ],
      }),
    );
  });

  it('lets the spec replace PATH and keeps labels', () => {
    const config = JSON.parse(
      imageConfigBytes({ ...spec, config: { env: { PATH: '/bin', A: '1' }, labels: { k: 'v' } } }, []).toString(),
    ) as { config: Record<string, unknown> };
    expect(config.config).toEqual({ Env: ['PATH=/bin', 'A=1'], Labels: { k: 'v' } });
  });

  it('names npm projects relative to the spec, so a moved checkout gives the same history', () => {
    const moved = { kind: 'npm' as const, field: 'layers[1]', project: '/elsewhere/images/npm/everything', to: '/app' };
    expect(describeLayer(moved, '/elsewhere/images/x.image.yaml')).toBe(describeLayer(spec.layers[1]!, spec.file));
  });

  it('writes an OCI manifest whose descriptors carry only media type, digest and size', () => {
    const config = descriptorOf(MEDIA_TYPES.ociConfig, Buffer.from('{}'));
    expect(config).toEqual({ mediaType: MEDIA_TYPES.ociConfig, digest: sha256Digest('{}'), size: 2 });
    const layer = { mediaType: MEDIA_TYPES.ociLayerGzip, digest: sha256Digest('l'), size: 1, annotations: { a: 'b' } };
    expect(JSON.parse(manifestBytes(config, [layer]).toString())).toEqual({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config,
      layers: [{ mediaType: MEDIA_TYPES.ociLayerGzip, digest: sha256Digest('l'), size: 1 }],
    });
  });
});

import { chmod, cp, mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalRegistry } from '../harness/cluster/local-registry.js';
import { findExecutable, run } from '../runner/exec.js';
import { buildImage, type BuiltImage } from '../runner/oci/build/builder.js';
import { writeOciLayout } from '../runner/oci/build/oci-layout-writer.js';
import { pushImage } from '../runner/oci/build/push.js';
import { parseReference } from '../runner/oci/reference.js';
import { RegistryClient } from '../runner/oci/registry-client.js';
import { MEDIA_TYPES, type ImageConfig } from '../runner/oci/types.js';
import { caught } from './support/caught.js';
import { initializeInChroot } from './support/chroot-initialize.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const IMAGES = join(REPO, 'scenarios', 'images');
const FIXTURE_SPEC = join(IMAGES, 'fixture.image.yaml');
const CI = process.env.CI === 'true';
const IS_ROOT = process.getuid?.() === 0;

/** A test that needs system tools (and maybe root): skipped where they are missing, failed under CI. */
function itNeeds(needs: { tools: string[]; root?: boolean }, name: string, body: () => Promise<void>, timeoutMs?: number): void {
  const missing = needs.tools.filter((tool) => !findExecutable(tool));
  if (needs.root && !IS_ROOT) missing.push('root');
  if (missing.length > 0 && !CI) {
    it.skip(`${name} (needs ${missing.join(', ')})`, body);
    return;
  }
  it(
    name,
    async () => {
      if (missing.length > 0) throw new Error(`CI=true but ${missing.join(', ')} is missing`);
      await body();
    },
    timeoutMs,
  );
}

const temporaryDirs: string[] = [];
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `image-build-${prefix}-`));
  temporaryDirs.push(dir);
  return dir;
}

interface TarListing {
  mode: string;
  owner: string;
  date: string;
  name: string;
}

/** `tar -tv` of a layer blob with GNU tar: what any extractor would see. */
async function listLayer(file: string): Promise<TarListing[]> {
  const output = await run('tar', ['--numeric-owner', '--full-time', '-tvzf', file], { env: { ...process.env, TZ: 'UTC' } });
  return output
    .trimEnd()
    .split('\n')
    .map((line) => {
      const [mode, owner, , date, time, ...rest] = line.split(/\s+/);
      return { mode: mode!, owner: owner!, date: `${date} ${time}`, name: rest.join(' ') };
    });
}

async function unpackWithGnuTar(image: BuiltImage, root: string): Promise<void> {
  // mkdtemp makes 0700 directories; the image's user must be able to enter its root.
  await chmod(root, 0o755);
  for (const layer of image.layers) await run('tar', ['--numeric-owner', '-xzf', layer.file, '-C', root]);
}

function configOf(image: BuiltImage): ImageConfig {
  return JSON.parse(image.config.bytes.toString()) as ImageConfig;
}

let fixture: BuiltImage;
let fixtureBuildMs = 0;

beforeAll(async () => {
  const startedAt = performance.now();
  fixture = await buildImage(FIXTURE_SPEC, { scratchParent: await tempDir('scratch') });
  fixtureBuildMs = performance.now() - startedAt;
});

afterAll(async () => {
  await fixture?.cleanup();
  for (const dir of temporaryDirs) await rm(dir, { recursive: true, force: true });
});

describe('image spec validation', () => {
  it('reports several problems at once with field paths, and builds nothing', async () => {
    const dir = await tempDir('bad-spec');
    const spec = join(dir, 'bad.image.yaml');
    await writeFile(
      spec,
      ['platform: linux', 'layers:', '  - base: {}', '  - files: [{ path: /app/x, source: missing.mjs }]', '  - npm: { project: ., to: app }', 'config: { cmd: [1] }', ''].join('\n'),
    );
    const scratch = await tempDir('bad-spec-scratch');
    const error = await caught(buildImage(spec, { scratchParent: scratch }));
    expect(error.code).toBe('BUILD_SPEC_INVALID');
    expect((error.details?.problems as Array<{ path: string }>).map((problem) => problem.path)).toEqual([
      'platform',
      'layers[2].npm.to',
      'config.cmd[0]',
      'layers[1].files[0].source',
      'layers[2].npm.project',
    ]);
    expect(await readdir(scratch)).toEqual([]);
  });
});

describe('building the fixture image', () => {
  it('builds an OCI image with gzip layers and the spec config', () => {
    const manifest = JSON.parse(fixture.manifest.bytes.toString());
    expect(manifest.mediaType).toBe(MEDIA_TYPES.ociManifest);
    expect(manifest.config.mediaType).toBe(MEDIA_TYPES.ociConfig);
    expect(manifest.layers.map((layer: { mediaType: string }) => layer.mediaType)).toEqual(Array(3).fill(MEDIA_TYPES.ociLayerGzip));
    const config = configOf(fixture);
    expect(config.rootfs.diff_ids).toEqual(fixture.layers.map((layer) => layer.diffId));
    expect(config.config).toMatchObject({ Entrypoint: ['/usr/local/bin/node', '/app/server.mjs'], User: '1000:1000', WorkingDir: '/app' });
    console.info(`fixture image build: ${Math.round(fixtureBuildMs)} ms, layers ${fixture.layers.map((layer) => layer.descriptor.size).join(' + ')} bytes`);
  });

  it('builds the same digest from another scratch dir and from a copy whose source mtime changed', async () => {
    const copyRoot = await tempDir('copy');
    await mkdir(join(copyRoot, 'scenarios'));
    await cp(IMAGES, join(copyRoot, 'scenarios', 'images'), { recursive: true });
    await cp(join(REPO, 'scenarios', 'fixtures'), join(copyRoot, 'scenarios', 'fixtures'), { recursive: true });
    const touched = new Date('2031-05-05T05:05:05Z');
    await utimes(join(copyRoot, 'scenarios', 'fixtures', 'mcp-fixture-server', 'server.mjs'), touched, touched);

    const [again, fromCopy] = await Promise.all([
      buildImage(FIXTURE_SPEC, { scratchParent: await tempDir('scratch-again') }),
      buildImage(join(copyRoot, 'scenarios', 'images', 'fixture.image.yaml'), { scratchParent: await tempDir('scratch-copy') }),
    ]);
    try {
      expect(again.scratchDir).not.toBe(fixture.scratchDir);
      for (const image of [again, fromCopy]) {
        expect(image.manifest.digest).toBe(fixture.manifest.digest);
        expect(image.layers.map((layer) => layer.descriptor.digest)).toEqual(fixture.layers.map((layer) => layer.descriptor.digest));
        expect(image.manifest.bytes.equals(fixture.manifest.bytes)).toBe(true);
      }
    } finally {
      await again.cleanup();
      await fromCopy.cleanup();
    }
  });

  itNeeds({ tools: ['tar'] }, 'puts the expected entries in each layer, all with the fixed mtime', async () => {
    const [base, runtime, files] = await Promise.all(fixture.layers.map((layer) => listLayer(layer.file)));
    const all = [...base!, ...runtime!, ...files!];
    expect(new Set(all.map((entry) => entry.date))).toEqual(new Set(['2026-01-01 00:00:00']));
    expect(base!.map((entry) => `${entry.mode} ${entry.owner} ${entry.name}`)).toEqual([
      'drwxr-xr-x 0/0 dev/',
      'drwxr-xr-x 0/0 etc/',
      '-rw-r--r-- 0/0 etc/group',
      '-rw-r--r-- 0/0 etc/passwd',
      'drwxr-xr-x 0/0 home/',
      'drwxr-xr-x 1000/1000 home/app/',
      'drwxr-xr-x 0/0 proc/',
      'drwx------ 0/0 root/',
      'drwxr-xr-x 0/0 sys/',
      'drwxrwxrwt 0/0 tmp/',
    ]);
    const runtimeNames = runtime!.map((entry) => entry.name);
    const node = (await run('readlink', ['-f', process.execPath])).trim().slice(1);
    expect(runtime!.find((entry) => entry.name === node)?.mode).toBe('-rwxr-xr-x');
    expect(runtimeNames.some((name) => name.startsWith('usr/local/bin/node'))).toBe(true);
    expect(runtimeNames.some((name) => /ld-linux|ld-musl/.test(name))).toBe(true);
    // Every parent directory is in the layer, before its contents; the owner is always root.
    for (const [index, name] of runtimeNames.entries()) {
      const parent = name.replace(/ -> .*$/, '').replace(/[^/]+\/?$/, '');
      if (parent === '') continue;
      expect(runtimeNames.indexOf(parent), `${parent} listed before ${name}`).toBeGreaterThanOrEqual(0);
      expect(runtimeNames.indexOf(parent)).toBeLessThan(index);
    }
    expect(new Set(runtime!.map((entry) => entry.owner))).toEqual(new Set(['0/0']));
    expect(files!.map((entry) => `${entry.mode} ${entry.name}`)).toEqual(['drwxr-xr-x app/', '-rw-r--r-- app/server.mjs']);
  });

  itNeeds({ tools: ['tar', 'chroot'], root: true }, 'starts from its unpacked layers in a chroot and answers initialize', async () => {
    const root = await tempDir('rootfs');
    await unpackWithGnuTar(fixture, root);
    const answer = await initializeInChroot(root, configOf(fixture), 10_000);
    expect(answer.result).toMatchObject({ protocolVersion: '2025-06-18', serverInfo: { name: 'mcp-fixture-server' } });
  });
});

describe('image outputs', () => {
  itNeeds({ tools: ['skopeo'] }, 'writes an OCI layout that skopeo inspects and copies, replacing a tag in place', async () => {
    const layout = join(await tempDir('layout'), 'oci');
    await writeOciLayout(fixture, layout, 'fixture');
    await writeOciLayout(fixture, layout, 'fixture');
    await writeOciLayout(fixture, layout, 'fixture-2');
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
    expect(index.manifests.map((entry: { annotations: Record<string, string> }) => entry.annotations['org.opencontainers.image.ref.name'])).toEqual([
      'fixture',
      'fixture-2',
    ]);
    expect(index.manifests[0]).toMatchObject({ digest: fixture.manifest.digest, platform: { os: 'linux', architecture: 'amd64' } });

    const inspected = JSON.parse(await run('skopeo', ['inspect', `oci:${layout}:fixture`]));
    expect(inspected.Digest).toBe(fixture.manifest.digest);
    expect(inspected.Layers).toEqual(fixture.layers.map((layer) => layer.descriptor.digest));
    const copy = join(await tempDir('skopeo-copy'), 'x');
    await run('skopeo', ['copy', `oci:${layout}:fixture-2`, `dir:${copy}`]);
    const copied = await readdir(copy);
    for (const layer of fixture.layers) expect(copied).toContain(layer.descriptor.digest.slice('sha256:'.length));
    expect(await readFile(join(copy, 'manifest.json'))).toEqual(fixture.manifest.bytes);
  });

  it('refuses a directory that is not a layout, and a bad tag', async () => {
    const dir = await tempDir('not-layout');
    await writeFile(join(dir, 'stray.txt'), 'x');
    await expect(writeOciLayout(fixture, dir, 'fixture')).rejects.toMatchObject({ code: 'LAYOUT_INVALID' });
    await expect(writeOciLayout(fixture, join(dir, 'new'), 'bad tag')).rejects.toMatchObject({ code: 'REF_INVALID' });
    expect(await readdir(dir)).toEqual(['stray.txt']);
  });

  itNeeds({ tools: ['docker-registry', 'skopeo'] }, 'pushes to a real registry, skipping blobs it already has', async () => {
    const registry = await startLocalRegistry({ dir: await tempDir('registry'), port: 0 });
    try {
      const target = new RegistryClient(parseReference(`${registry.address}/mcpwarm/fixture`));
      const first = await pushImage(fixture, target, 'v1');
      expect(first.uploaded).toEqual([...fixture.layers.map((layer) => layer.descriptor.digest), fixture.config.descriptor.digest]);
      const second = await pushImage(fixture, target, 'v2');
      expect(second).toEqual({ digest: fixture.manifest.digest, uploaded: [] });
      const inspected = JSON.parse(await run('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.address}/mcpwarm/fixture:v2`]));
      expect(inspected.Digest).toBe(fixture.manifest.digest);
    } finally {
      await registry.stop();
    }
  });
});

describe('layer semantics and failures', () => {
  itNeeds({ tools: ['tar'] }, 'writes whiteouts and opaque markers for the layered-whiteouts spec', async () => {
    const image = await buildImage(join(IMAGES, 'layered-whiteouts.image.yaml'), { scratchParent: await tempDir('whiteouts') });
    try {
      const layers = await Promise.all(image.layers.map((layer) => listLayer(layer.file)));
      expect(layers[2]!.map((entry) => `${entry.mode} ${entry.name}`)).toEqual([
        'drwxr-xr-x app/',
        '-rw-r--r-- app/.wh.old.txt',
        '-rw-r--r-- app/.wh.olddir',
        '-rw-r--r-- app/replace.txt',
        'drwxrwxrwt tmp/',
        '-rw------- tmp/scratch.txt',
      ]);
      expect(layers[3]!.map((entry) => entry.name)).toEqual(['app/', 'app/cache/', 'app/cache/.wh..wh..opq', 'app/cache/fresh.txt', 'app/current -> replace.txt']);
    } finally {
      await image.cleanup();
    }
  });

  it('fails a step with BUILD_STEP_FAILED naming it, and leaves no scratch dir', async () => {
    const dir = await tempDir('failing');
    await writeFile(join(dir, 'deletes.image.yaml'), 'platform: linux/amd64\nlayers:\n  - base: {}\n  - delete: [/etc/missing]\n');
    const scratch = await tempDir('failing-scratch');
    await expect(buildImage(join(dir, 'deletes.image.yaml'), { scratchParent: scratch })).rejects.toMatchObject({
      code: 'BUILD_STEP_FAILED',
      message: 'layers[1] (delete /etc/missing): cannot delete /etc/missing: no lower layer has it',
    });
    expect(await readdir(scratch)).toEqual([]);
  });

  itNeeds({ tools: ['npm'] }, 'fails the npm step when npm ci fails, and leaves no scratch dir', async () => {
    const dir = await tempDir('npm-failing');
    await mkdir(join(dir, 'project'));
    // package.json and the lock disagree: npm ci refuses before fetching anything.
    await writeFile(join(dir, 'project', 'package.json'), JSON.stringify({ name: 'p', version: '1.0.0', dependencies: { 'left-pad': '1.3.0' } }));
    await writeFile(join(dir, 'project', 'package-lock.json'), JSON.stringify({ name: 'p', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'p', version: '1.0.0' } } }));
    await writeFile(join(dir, 'npm.image.yaml'), 'platform: linux/amd64\nlayers:\n  - base: {}\n  - npm: { project: project, to: /app }\n');
    const scratch = await tempDir('npm-failing-scratch');
    const error = await caught(buildImage(join(dir, 'npm.image.yaml'), { scratchParent: scratch }));
    expect(error).toMatchObject({ code: 'BUILD_STEP_FAILED', details: { step: 'layers[1] (npm project -> /app)' } });
    expect(error.message).toMatch(/npm ci --omit=dev --ignore-scripts/);
    expect(await readdir(scratch)).toEqual([]);
  });
});

describe('npm server images', () => {
  itNeeds(
    { tools: ['tar', 'chroot', 'npm'], root: true },
    'builds the everything image, which starts in a chroot and answers initialize',
    async () => {
      const startedAt = performance.now();
      const image = await buildImage(join(IMAGES, 'everything.image.yaml'), { scratchParent: await tempDir('everything') });
      const buildMs = performance.now() - startedAt;
      try {
        const root = await tempDir('everything-rootfs');
        await unpackWithGnuTar(image, root);
        const answer = await initializeInChroot(root, configOf(image), 20_000);
        expect(answer.result).toMatchObject({ protocolVersion: '2025-06-18', serverInfo: { name: 'mcp-servers/everything' } });
        console.info(`everything image build: ${Math.round(buildMs)} ms, layers ${image.layers.map((layer) => layer.descriptor.size).join(' + ')} bytes`);
      } finally {
        await image.cleanup();
      }
    },
    120_000,
  );
});

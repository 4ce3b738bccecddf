/**
 * The layer kinds that take host content (hostBinaries, tree, npm `installed`), built for real:
 * what their layers hold, that the build stays deterministic, that the fingerprint follows the
 * content and nothing else, and the `docker load` archive of the result.
 */
import { chmod, cp, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { list, type ReadEntry } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findExecutable } from '../../exec.js';
import { digestHex } from '../digest.js';
import { buildImage } from './builder.js';
import { dockerArchiveManifest, dockerArchiveStream } from './docker-archive.js';
import { specFingerprint } from './fingerprint.js';
import { outermostPackageDirs } from './npm-layer.js';

const HOST_TOOLS = ['ldd', 'npm'].every((tool) => findExecutable(tool) !== undefined);
let work: string;

interface Listed {
  path: string;
  type: string;
  mode: number;
  uid: number;
  linkpath?: string;
}

async function listTar(file: string): Promise<Listed[]> {
  const entries: Listed[] = [];
  await list({
    file,
    onReadEntry: (entry: ReadEntry) => {
      entries.push({ path: entry.path, type: entry.type, mode: (entry.mode ?? 0) & 0o7777, uid: entry.uid ?? 0, ...(entry.linkpath ? { linkpath: entry.linkpath } : {}) });
    },
  });
  return entries;
}

/** A project with one production dependency (which has one of its own) and one dev dependency, installed. */
async function installedProject(dir: string): Promise<void> {
  const pkg = (name: string, extra: object = {}) => JSON.stringify({ name, version: '1.0.0', ...extra });
  await mkdir(join(dir, 'node_modules', 'prod-a', 'node_modules', 'nested-b'), { recursive: true });
  await mkdir(join(dir, 'node_modules', 'dev-d'), { recursive: true });
  await writeFile(join(dir, 'package.json'), pkg('project', { dependencies: { 'prod-a': '1.0.0' }, devDependencies: { 'dev-d': '1.0.0' } }));
  await writeFile(join(dir, 'node_modules', 'prod-a', 'package.json'), pkg('prod-a', { dependencies: { 'nested-b': '1.0.0' } }));
  await writeFile(join(dir, 'node_modules', 'prod-a', 'index.js'), 'export default 1;\n');
  await writeFile(join(dir, 'node_modules', 'prod-a', 'node_modules', 'nested-b', 'package.json'), pkg('nested-b'));
  await writeFile(join(dir, 'node_modules', 'dev-d', 'package.json'), pkg('dev-d'));
}

beforeAll(async () => {
  work = await realpath(await mkdtemp(join(tmpdir(), 'host-layers-test-')));
  await mkdir(join(work, 'tree', 'sub'), { recursive: true });
  await writeFile(join(work, 'tree', 'b.js'), 'b\n');
  await writeFile(join(work, 'tree', 'a.sh'), '#!/bin/sh\n');
  await chmod(join(work, 'tree', 'a.sh'), 0o750);
  await writeFile(join(work, 'tree', 'sub', 'c.txt'), 'c\n');
  await symlink('sub/c.txt', join(work, 'tree', 'link'));
  await installedProject(join(work, 'project'));
  await writeFile(
    join(work, 'host.image.yaml'),
    `platform: linux/${process.arch === 'arm64' ? 'arm64' : 'amd64'}
layers:
  - hostBinaries: { commands: [/bin/sh] }
  - tree: { source: tree, to: /opt/app }
  - npm: { project: project, to: /opt/app, installed: true }
`,
  );
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('outermostPackageDirs', () => {
  it('keeps the packages inside node_modules, outermost only, sorted', () => {
    const listed = ['/p', '/p/node_modules/z', '/p/node_modules/@s/a', '/p/node_modules/z/node_modules/y', '/p/node_modules/@s/a', '/elsewhere/x', ''];
    expect(outermostPackageDirs(listed, '/p/node_modules')).toEqual(['/p/node_modules/@s/a', '/p/node_modules/z']);
  });
});

describe.skipIf(!HOST_TOOLS && process.env.CI !== 'true')('hostBinaries, tree and installed npm layers', () => {
  it('hold the program with its libraries, the tree as it is, and only the production packages', async () => {
    const image = await buildImage(join(work, 'host.image.yaml'));
    try {
      const [binaries, tree, npm] = await Promise.all(image.layers.map((layer) => listTar(layer.file)));
      const binaryPaths = binaries!.map((entry) => entry.path);
      // /bin/sh keeps the symlinks on its way (merged /usr: /bin -> usr/bin, sh -> dash) and the file they lead to.
      const shell = await realpath('/bin/sh');
      expect(binaryPaths).toContain(shell.slice(1));
      expect(binaries!.find((entry) => entry.path === shell.slice(1))).toMatchObject({ type: 'File', mode: 0o755, uid: 0 });
      expect(binaryPaths.some((path) => /ld-(linux|musl)[^/]*\.so/.test(path))).toBe(true);

      expect(tree!.map(({ path, type, mode, linkpath }) => ({ path, type, mode, ...(linkpath ? { linkpath } : {}) }))).toEqual([
        { path: 'opt/', type: 'Directory', mode: 0o755 },
        { path: 'opt/app/', type: 'Directory', mode: 0o755 },
        { path: 'opt/app/a.sh', type: 'File', mode: 0o755 },
        { path: 'opt/app/b.js', type: 'File', mode: 0o644 },
        { path: 'opt/app/link', type: 'SymbolicLink', mode: 0o777, linkpath: 'sub/c.txt' },
        { path: 'opt/app/sub/', type: 'Directory', mode: 0o755 },
        { path: 'opt/app/sub/c.txt', type: 'File', mode: 0o644 },
      ]);

      const npmPaths = npm!.map((entry) => entry.path);
      expect(npmPaths).toContain('opt/app/package.json');
      expect(npmPaths).toContain('opt/app/node_modules/prod-a/index.js');
      expect(npmPaths).toContain('opt/app/node_modules/prod-a/node_modules/nested-b/package.json');
      expect(npmPaths.filter((path) => path.includes('dev-d'))).toEqual([]);

      // Deterministic: the same inputs give the same image.
      const again = await buildImage(join(work, 'host.image.yaml'));
      expect(again.manifest.digest).toBe(image.manifest.digest);
      await again.cleanup();

      // A docker load archive: manifest.json naming the config and the layers as the builder wrote them.
      const archive = join(work, 'image.tar');
      await pipeline(dockerArchiveStream(image, ['mcpwarm-test:1']), createWriteStream(archive));
      const [manifest] = dockerArchiveManifest(image, ['mcpwarm-test:1']);
      expect(manifest).toEqual({
        Config: `${digestHex(image.config.descriptor.digest)}.json`,
        RepoTags: ['mcpwarm-test:1'],
        Layers: image.layers.map((layer) => `${digestHex(layer.descriptor.digest)}/layer.tar.gz`),
      });
      const archived = await listTar(archive);
      expect(archived.filter((entry) => entry.type === 'File').map((entry) => entry.path)).toEqual([manifest!.Config, ...manifest!.Layers, 'manifest.json']);
    } finally {
      await image.cleanup();
    }
  }, 60_000);

  it('fingerprints the content the build reads, not where it lies', async () => {
    const spec = join(work, 'host.image.yaml');
    const first = await specFingerprint(spec);
    expect(first).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await specFingerprint(spec)).toBe(first);

    // The same inputs elsewhere: the same fingerprint.
    const moved = join(work, 'moved');
    await mkdir(moved);
    await cp(join(work, 'tree'), join(moved, 'tree'), { recursive: true, verbatimSymlinks: true });
    await cp(join(work, 'project'), join(moved, 'project'), { recursive: true });
    await cp(spec, join(moved, 'host.image.yaml'));
    expect(await specFingerprint(join(moved, 'host.image.yaml'))).toBe(first);

    // One changed byte in a tree file, or a changed package file: a different one.
    await writeFile(join(moved, 'tree', 'b.js'), 'B\n');
    const changedTree = await specFingerprint(join(moved, 'host.image.yaml'));
    expect(changedTree).not.toBe(first);
    await writeFile(join(moved, 'project', 'node_modules', 'prod-a', 'index.js'), 'export default 2;\n');
    expect(await specFingerprint(join(moved, 'host.image.yaml'))).not.toBe(changedTree);
  }, 60_000);
});

/**
 * The CLI as users drive it: `registry up|status|down` leaves nothing running, `image pull` and
 * `image unpack` print what they did, and bad input exits 2 with a coded error and no leftovers.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startLocalRegistry, type LocalRegistry } from '../harness/cluster/local-registry.js';
import { parseReference } from '../runner/oci/reference.js';
import { RegistryClient } from '../runner/oci/registry-client.js';
import { isProcessAlive } from '../runner/exec.js';
import { mountsUnder } from '../runner/mounts.js';
import { runCli } from './support/cli.js';
import { dir, file, layeredTestImage } from './support/layered-image.js';
import { pushTestImage } from './support/test-images.js';

let work: string;
let registry: LocalRegistry;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mcpwarm-cli-'));
  registry = await startLocalRegistry({ dir: join(work, 'registry'), port: 0 });
  const good = layeredTestImage([[dir('etc/'), file('etc/hello', 'hello\n')], [file('etc/.wh.hello', ''), file('etc/bye', 'bye\n')]]);
  const hostile = layeredTestImage([[file('../../outside', 'pwned')]]);
  await pushTestImage(new RegistryClient(parseReference(`${registry.address}/cli/good:1`)), good, '1');
  await pushTestImage(new RegistryClient(parseReference(`${registry.address}/cli/hostile:1`)), hostile, '1');
});

afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('mcpwarm registry', () => {
  // Four CLI runs (each a Node start-up under a TypeScript loader): generous on a loaded 2-core machine.
  it('starts a registry in the background, reports it, and stops it', { timeout: 180_000 }, async () => {
    const state = join(work, 'managed-registry');
    const port = String(await freePort());
    const up = await runCli(['registry', 'up', '--port', port, '--dir', state, '--json']);
    expect(up.code, up.stderr).toBe(0);
    const started = up.json as { pid: number; address: string };
    expect(started.address).toBe(`127.0.0.1:${port}`);
    expect(isProcessAlive(started.pid)).toBe(true);
    expect((await fetch(`http://127.0.0.1:${port}/v2/`)).status).toBe(200);

    const status = await runCli(['registry', 'status', '--port', port, '--dir', state, '--json']);
    expect(status.code).toBe(0);
    expect(status.json).toMatchObject({ running: true, answering: true, pid: started.pid });

    const down = await runCli(['registry', 'down', '--port', port, '--dir', state, '--json']);
    expect(down.code).toBe(0);
    expect(down.json).toMatchObject({ stopped: true });
    expect(isProcessAlive(started.pid)).toBe(false);

    const after = await runCli(['registry', 'status', '--port', port, '--dir', state]);
    expect(after.code).toBe(1);
    expect(after.stderr).toContain('no registry running');
  });
});

describe('mcpwarm image', () => {
  it('pulls, reporting layers and cache hits', async () => {
    const cache = join(work, 'cache-pull');
    const first = await runCli(['image', 'pull', `${registry.address}/cli/good:1`, '--cache', cache, '--json']);
    expect(first.code, first.stderr).toBe(0);
    const firstJson = first.json as { digest: string; layers: Array<{ cacheHit: boolean }>; phases: Record<string, number> };
    expect(firstJson.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(firstJson.layers.map((l) => l.cacheHit)).toEqual([false, false]);
    expect(Object.keys(firstJson.phases)).toEqual(['resolveMs', 'pullMs', 'unpackMs', 'totalMs']);
    const second = await runCli(['image', 'pull', `${registry.address}/cli/good:1`, '--cache', cache, '--json']);
    expect((second.json as typeof firstJson).layers.map((l) => l.cacheHit)).toEqual([true, true]);
    expect(second.stderr).toContain('cached');
  });

  it('unpacks to a rootfs and releases it', async () => {
    const cache = join(work, 'cache-unpack');
    const rootfs = join(work, 'rootfs');
    const unpack = await runCli(['image', 'unpack', `${registry.address}/cli/good:1`, '--cache', cache, '--rootfs', rootfs, '--json']);
    expect(unpack.code, unpack.stderr).toBe(0);
    expect(await readFile(join(rootfs, 'etc/bye'), 'utf8')).toBe('bye\n');
    expect(existsSync(join(rootfs, 'etc/hello'))).toBe(false);
    const release = await runCli(['image', 'release', '--cache', cache, '--rootfs', rootfs]);
    expect(release.code, release.stderr).toBe(0);
    expect(await mountsUnder(rootfs)).toEqual([]);
  });

  it('refuses a hostile layer with exit 2, a coded error, and nothing left behind', async () => {
    const cache = join(work, 'cache-hostile');
    const rootfs = join(work, 'hostile-rootfs');
    const result = await runCli(['image', 'unpack', `${registry.address}/cli/hostile:1`, '--cache', cache, '--rootfs', rootfs, '--json']);
    expect(result.code).toBe(2);
    expect(result.json).toMatchObject({ error: { code: 'UNPACK_PATH_ESCAPE' } });
    expect(result.stderr).toContain('error UNPACK_PATH_ESCAPE');
    expect(existsSync(rootfs)).toBe(false);
    expect(existsSync(join(work, 'outside'))).toBe(false);
    expect(await readdir(join(cache, 'tmp'))).toEqual([]);
    expect(await readdir(join(cache, 'snapshots'))).toEqual([]);
  });

  it.each([
    [['image', 'pull', 'Bad//Ref'], 'REF_INVALID'],
    [['image', 'pull', `${'127.0.0.1:1'}/nothing:here`], 'REGISTRY_UNREACHABLE'],
    [['image', 'pull', 'oci:/nonexistent-layout-dir:tag'], 'LAYOUT_INVALID'],
  ])('answers %j with %s', async (args, code) => {
    const result = await runCli([...args, '--cache', join(work, 'cache-bad'), '--json']);
    expect(result.json).toMatchObject({ error: { code } });
    expect(result.code).toBe(code === 'REGISTRY_UNREACHABLE' ? 1 : 2);
  });

  it('exits 2 on bad usage', async () => {
    const result = await runCli(['image', 'unpack', 'x']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('USAGE_INVALID');
  });

  it('exits 2 for a missing image', async () => {
    const result = await runCli(['image', 'pull', `${registry.address}/cli/missing:1`, '--cache', join(work, 'cache-missing'), '--json']);
    expect(result.code).toBe(2);
    expect(result.json).toMatchObject({ error: { code: 'IMAGE_NOT_FOUND' } });
  });
});

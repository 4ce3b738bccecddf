/**
 * Plain-HTTP registries that are not on loopback (in kind: kind-registry:5000): the real registry
 * listening on this machine's first non-loopback IPv4 address, the fixture image pushed to it, and
 * pulls from it with and without naming it as insecure: in-process through the OCI client, and
 * through runner agents started with `--insecure-registry` and with MCPWARM_INSECURE_REGISTRIES.
 * Without the setting the pull fails at once with REGISTRY_INSECURE_REFUSED, HTTP is never tried,
 * and nothing is left in the cache.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentProcess, type AgentProcess } from '../harness/benchmarks/agent-process.js';
import { startLocalRegistry, type LocalRegistry } from '../harness/cluster/local-registry.js';
import { ImageCache } from '../runner/oci/cache/image-cache.js';
import { buildAndPublish } from '../runner/oci/build/publish.js';
import { INSECURE_REGISTRIES_ENV } from '../runner/oci/insecure-registries.js';
import { openImageSource } from '../runner/oci/open-source.js';
import { pullImage } from '../runner/oci/puller.js';
import { descendantProcesses } from './support/agent-fixture.js';
import { caught } from './support/caught.js';

const address = Object.values(networkInterfaces())
  .flat()
  .find((entry) => entry !== undefined && entry.family === 'IPv4' && !entry.internal)?.address;
const required = process.env.CI === 'true';

describe.skipIf(address === undefined && !required)('pulling from a plain-HTTP registry on a non-loopback address', () => {
  const token = randomBytes(12).toString('hex');
  let work: string;
  let registry: LocalRegistry;
  let image: string;
  const agents: AgentProcess[] = [];

  beforeAll(async () => {
    expect(address, 'this machine has no non-loopback IPv4 address').toBeDefined();
    work = await mkdtemp(join(tmpdir(), 'mcpwarm-insecure-'));
    // Servers run as uid 1000 and must be able to enter their rootfs below this directory.
    await chmod(work, 0o755);
    registry = await startLocalRegistry({ dir: join(work, 'registry'), port: 0, host: address! });
    image = (await buildAndPublish('scenarios/images/fixture.image.yaml', { tag: `${registry.address}/mcp/fixture:1`, push: true, insecure: true })).reference;
  }, 180_000);

  afterAll(async () => {
    for (const agent of agents) await agent.stop();
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
    expect(await descendantProcesses()).toEqual([]);
  }, 60_000);

  it('the OCI client refuses it at once over HTTPS, with nothing cached, and pulls it when it is named', async () => {
    const cache = await ImageCache.open({ dir: join(work, 'cache') });
    // Refused on the first answer (not REGISTRY_UNREACHABLE after the client's retries).
    const refused = await caught(pullImage(openImageSource(image), { cache, overlayWhiteouts: false }));
    expect(refused.code).toBe('REGISTRY_INSECURE_REFUSED');
    expect(refused.message).toContain(`https://${registry.address} answered in plain HTTP`);
    expect(refused.hint).toContain(`--insecure-registry ${registry.address}`);
    expect(await cache.entries()).toEqual([]);

    const pulled = await pullImage(openImageSource(image, { insecureRegistries: [registry.address] }), { cache, overlayWhiteouts: false });
    expect(pulled.digest).toMatch(/^sha256:/);
    expect((await cache.entries()).length).toBeGreaterThan(0);
  }, 60_000);

  it('a runner agent activates it only when it is named by --insecure-registry or MCPWARM_INSECURE_REGISTRIES', async () => {
    const start = (name: string, extraArgs: string[] = []) => startAgentProcess({ dir: join(work, name), sandbox: 'auto', token, extraArgs, startTimeoutMs: 60_000 });
    const [plain, flagged] = await Promise.all([start('plain'), start('flagged', [`--insecure-registry=${address}`])]);
    agents.push(plain!, flagged!);
    // The agent reads the variable when it starts; this process's environment is what it inherits.
    process.env[INSECURE_REGISTRIES_ENV] = `registry.example:5000, ${registry.address}`;
    let fromEnv: AgentProcess;
    try {
      fromEnv = await start('from-env');
    } finally {
      delete process.env[INSECURE_REGISTRIES_ENV];
    }
    agents.push(fromEnv);

    const activate = async (agent: AgentProcess) => {
      const response = await fetch(new URL('/activate', agent.url), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ image }) });
      return { status: response.status, json: (await response.json()) as any };
    };
    const refused = await activate(plain!);
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatchObject({ code: 'REGISTRY_INSECURE_REFUSED', hint: expect.stringContaining('--insecure-registry') });
    for (const agent of [flagged!, fromEnv]) {
      const answer = await activate(agent);
      expect(answer.status, JSON.stringify(answer.json)).toBe(201);
      expect(answer.json.image.digest).toMatch(/^sha256:/);
      const deleted = await fetch(new URL(`/instances/${answer.json.instanceId}`, agent.url), { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
      expect(deleted.status).toBe(200);
    }
  }, 180_000);
});

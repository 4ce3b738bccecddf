/**
 * The docker substrate on a real Docker engine (started with ensureDockerd when none answers;
 * required under CI) with the runner image the project builds: the shared conformance suite, the
 * runner container's privileges, an activation of the fixture image through a runner end to end,
 * labelled containers without a record swept, an engine that cannot be reached, and the pool
 * controller serving and refilling a pool of two. No container of this file outlives it.
 */
import { createServer, type Server } from 'node:net';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultDockerdDir } from '../harness/cli/paths.js';
import { ensureDockerd, type DockerEngine } from '../harness/cluster/dockerd.js';
import { startController, type Activation, type RunningController } from '../runner/controller/controller.js';
import { Pool } from '../runner/controller/pool.js';
import { runnerToken } from '../runner/controller/runner-token.js';
import { isMcpWarmError } from '../runner/errors.js';
import { CONTAINER_CACHE_DIR, CONTAINER_TOKEN_FILE, LABELS } from '../runner/substrates/docker/container-spec.js';
import { DockerSubstrate, type DockerSubstrateOptions } from '../runner/substrates/docker/index.js';
import { ensureRunnerImage, pruneRunnerImages, type RunnerImage } from '../runner/substrates/docker/runner-image.js';
import type { RunnerEvent } from '../runner/substrates/types.js';
import { imageFixture, type ImageFixture } from './support/agent-fixture.js';
import { caught } from './support/caught.js';
import { runCli } from './support/cli.js';
import { CONFORMANCE_TOKEN, describeSubstrateConformance, httpStatus, recordedAgent, waitForRunner } from './support/substrate-conformance.js';

/** The engine, or why there is none: outside CI the file is skipped, under CI that is a failure. */
async function openEngine(): Promise<DockerEngine | undefined> {
  try {
    return await ensureDockerd({ stateDir: defaultDockerdDir() });
  } catch (error) {
    const missing = isMcpWarmError(error) && (error.code === 'DOCKER_UNAVAILABLE' || error.code === 'TOOL_MISSING');
    if (!missing || process.env.CI === 'true') throw error;
    console.warn(`skipping the docker substrate tests: ${error.code}: ${error.message}`);
    return undefined;
  }
}

const engine = await openEngine();
let docker: Docker;
let work: string;
let runnerImage: RunnerImage;
const substrates: DockerSubstrate[] = [];

function substrateOn(stateDir: string, options: Partial<DockerSubstrateOptions> = {}): DockerSubstrate {
  const made = new DockerSubstrate({ stateDir, socketPath: engine!.socketPath, runnerImage: runnerImage.tag, stopGraceMs: 5000, pollIntervalMs: 500, ...options });
  substrates.push(made);
  return made;
}

/** Containers labelled with a state directory under this file's work directory. */
async function containersOfThisFile(): Promise<Docker.ContainerInfo[]> {
  const labelled = await docker.listContainers({ all: true, filters: { label: [LABELS.stateDir] } });
  return labelled.filter((container) => container.Labels[LABELS.stateDir]?.startsWith(`${work}/`));
}

async function containerIdsOf(stateDir: string): Promise<string[]> {
  return (await docker.listContainers({ all: true, filters: { label: [`${LABELS.stateDir}=${stateDir}`] } })).map((container) => container.Id);
}

async function containerExists(id: string): Promise<boolean> {
  return docker
    .getContainer(id)
    .inspect()
    .then(
      () => true,
      (error: { statusCode?: number }) => {
        if (error.statusCode === 404) return false;
        throw error;
      },
    );
}

describe.skipIf(engine === undefined)('docker substrate', () => {
  beforeAll(async () => {
    docker = new Docker({ socketPath: engine!.socketPath });
    work = await mkdtemp(join(tmpdir(), 'mcpwarm-substrate-docker-'));
    await chmod(work, 0o755);
    // Built once per tree: later files and runs find it by its fingerprint tag.
    runnerImage = await ensureRunnerImage({ socketPath: engine!.socketPath });
  }, 300_000);

  afterAll(async () => {
    for (const substrate of substrates) {
      for (const runner of await substrate.listRunners()) await substrate.deleteRunner(runner.id);
      await substrate.close();
    }
    if (work === undefined) return;
    expect((await containersOfThisFile()).map((container) => `${container.Names.join(',')} ${container.State}`)).toEqual([]);
    await rm(work, { recursive: true, force: true });
  });

  it('has the runner image in the engine, tagged by the fingerprint of its inputs', async () => {
    expect(runnerImage.tag).toMatch(/^mcpwarm-runner:[0-9a-f]{16}$/);
    const inspected = await docker.getImage(runnerImage.tag).inspect();
    expect(inspected.Id).toBe(runnerImage.imageId);
    expect(inspected.Config.Entrypoint).toEqual(['/opt/mcpwarm/runner-entrypoint.sh']);
    // An unchanged tree is found, neither rebuilt nor loaded again.
    const again = await ensureRunnerImage({ socketPath: engine!.socketPath });
    expect(again).toMatchObject({ tag: runnerImage.tag, imageId: runnerImage.imageId, loaded: false });
    expect(again.phases.buildMs).toBeUndefined();
    // The CLI finds the same image (DOCKER_HOST names the engine this file uses).
    const cli = await runCli(['docker', 'runner-image', '--json'], { DOCKER_HOST: `unix://${engine!.socketPath}` });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.json).toMatchObject({ tag: runnerImage.tag, imageId: runnerImage.imageId, loaded: false });
    expect(cli.stderr).toContain(`${runnerImage.tag} (${runnerImage.imageId}): already in the engine`);
    // Fingerprinting reads every input file twice here (library and CLI): slow on a loaded machine.
  }, 240_000);

  it("prunes other trees' runner images, keeping this tree's and one a container still uses", async () => {
    // A repository of this test's own, so no other runner image of the engine is touched.
    const repo = `mcpwarm-runner-prune-test-${process.pid}`;
    const [current, stale, inUse] = [runnerImage.tag.split(':')[1]!, '0000000000000000', '1111111111111111'];
    const image = docker.getImage(runnerImage.tag);
    await image.tag({ repo, tag: current });
    await image.tag({ repo, tag: stale });
    // An image of its own (a commit of an unstarted container) with a container made from it: the engine must keep it.
    const base = await docker.createContainer({ Image: runnerImage.tag });
    await base.commit({ repo, tag: inUse });
    const user = await docker.createContainer({ Image: `${repo}:${inUse}` });
    try {
      const pruned = await pruneRunnerImages({ socketPath: engine!.socketPath, repository: repo });
      expect(pruned).toMatchObject({ current: `${repo}:${current}`, removed: [`${repo}:${stale}`], kept: [{ tag: `${repo}:${inUse}` }] });
      const tags = (await docker.listImages({ filters: { reference: [repo] } })).flatMap((i) => i.RepoTags ?? []).sort();
      expect(tags).toEqual([`${repo}:${current}`, `${repo}:${inUse}`].sort());
      expect((await docker.getImage(runnerImage.tag).inspect()).Id).toBe(runnerImage.imageId);
    } finally {
      await user.remove({ force: true });
      await base.remove({ force: true });
      for (const tag of [current, stale, inUse]) await docker.getImage(`${repo}:${tag}`).remove().catch(() => undefined);
    }
  });

  describeSubstrateConformance({
    name: 'docker',
    work: () => work,
    make: (stateDir, options = {}) => substrateOn(stateDir, options),
    failingAgentCommand: ['/usr/local/bin/node', '-e', "console.error('agent cannot start: boom'); process.exit(3)", '--'],
    missingAgentCommand: ['/nonexistent/mcpwarm-agent'],
    missingAgentFailsCreate: false,
    agentExists: (agent) => containerExists((agent as { containerId: string }).containerId),
    killAgent: async (agent) => {
      await docker.getContainer((agent as { containerId: string }).containerId).kill();
    },
    agentsOf: async (stateDir) => containerIdsOf(stateDir),
  });

  it('runs a runner container with only the privileges its sandbox needs', async () => {
    const stateDir = join(work, 'privileges');
    const substrate = substrateOn(stateDir);
    const [auto, chroot] = await Promise.all([
      substrate.createRunner({ pool: 'p', token: CONFORMANCE_TOKEN }),
      substrate.createRunner({ pool: 'p', token: CONFORMANCE_TOKEN, sandbox: 'chroot' }),
    ]);
    const inspect = async (id: string) => docker.getContainer(((await recordedAgent(stateDir, id)) as { containerId: string }).containerId).inspect();
    const [autoInfo, chrootInfo] = await Promise.all([inspect(auto.id), inspect(chroot.id)]);
    for (const info of [autoInfo, chrootInfo]) {
      expect(info.HostConfig).toMatchObject({ Privileged: false, CapAdd: ['SYS_ADMIN'], NetworkMode: 'host', Init: true });
      expect(info.HostConfig.CapDrop ?? []).toEqual([]);
      expect(info.HostConfig.Devices ?? []).toEqual([]);
      expect([...(info.HostConfig.SecurityOpt ?? [])].sort()).toEqual(['apparmor=unconfined', 'seccomp=unconfined']);
      expect(info.Mounts.map(({ Type, Source, Destination, RW }) => ({ Type, Source, Destination, RW })).sort((a, b) => a.Destination.localeCompare(b.Destination))).toEqual([
        { Type: 'bind', Source: join(stateDir, 'runners', info.Config.Labels[LABELS.runner]!, 'token'), Destination: CONTAINER_TOKEN_FILE, RW: false },
        { Type: 'bind', Source: join(stateDir, 'runners', info.Config.Labels[LABELS.runner]!, 'cache'), Destination: CONTAINER_CACHE_DIR, RW: true },
      ]);
      expect(info.Config.Labels).toMatchObject({ [LABELS.pool]: 'p', [LABELS.stateDir]: stateDir });
    }
    // bwrap (which auto picks) mounts a /proc of its own: /proc is not masked for it.
    expect(autoInfo.HostConfig.MaskedPaths).toEqual([]);
    expect(autoInfo.HostConfig.ReadonlyPaths).toEqual([]);
    expect(chrootInfo.HostConfig.MaskedPaths).toContain('/proc/kcore');
    expect(chrootInfo.HostConfig.ReadonlyPaths).toContain('/proc/sys');

    // And with them, the agent inside can use the sandbox each asked for.
    const [autoReady, chrootReady] = await Promise.all(
      [auto, chroot].map(async (runner) => {
        const running = await waitForRunner(substrate, runner.id, (listed) => listed.phase === 'running', 40_000);
        return (await (await fetch(new URL('/ready', running.endpoint))).json()) as { sandbox: string; sandboxes: Array<{ name: string; available: boolean }> };
      }),
    );
    expect(autoReady.sandbox).toBe('bwrap');
    expect(chrootReady.sandbox).toBe('chroot');
    expect(chrootReady.sandboxes.find((entry) => entry.name === 'bwrap')?.available).toBe(false);
    await Promise.all([auto, chroot].map((runner) => substrate.deleteRunner(runner.id)));
    expect(await containerIdsOf(stateDir)).toEqual([]);
  }, 90_000);

  it("hears of a container's end from the engine's events, without waiting for the periodic check", async () => {
    const stateDir = join(work, 'events');
    const substrate = substrateOn(stateDir, { pollIntervalMs: 600_000 });
    const events: RunnerEvent[] = [];
    substrate.watch((event) => events.push(event));
    const created = await substrate.createRunner({ pool: 'p', token: CONFORMANCE_TOKEN });
    await waitForRunner(substrate, created.id, (listed) => listed.phase === 'running', 40_000);
    const { containerId } = (await recordedAgent(stateDir, created.id)) as { containerId: string };
    await docker.getContainer(containerId).kill();
    // No list and no periodic check (10 min) in between: only the die event can bring this news.
    const deadline = Date.now() + 15_000;
    while (!events.some((event) => event.runner.id === created.id && event.runner.phase === 'gone')) {
      if (Date.now() > deadline) throw new Error(`no gone event: ${JSON.stringify(events.map((e) => [e.type, e.runner.phase]))}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await substrate.deleteRunner(created.id);
  }, 60_000);

  it('runs a runner in a Docker network of its own when asked, reached at its container address', async () => {
    const stateDir = join(work, 'bridge');
    const substrate = substrateOn(stateDir, { network: 'bridge' });
    const created = await substrate.createRunner({ pool: 'p', token: CONFORMANCE_TOKEN });
    const runner = await waitForRunner(substrate, created.id, (listed) => listed.phase === 'running', 40_000);
    const [containerId] = await containerIdsOf(stateDir);
    const info = await docker.getContainer(containerId!).inspect();
    expect(info.HostConfig.NetworkMode).toBe('bridge');
    expect(runner.endpoint).toBe(`http://${info.NetworkSettings.Networks.bridge!.IPAddress}:8080`);
    expect(await httpStatus(`${runner.endpoint}/instances`)).toBe(401);
    expect(await httpStatus(`${runner.endpoint}/instances`, CONFORMANCE_TOKEN)).toBe(200);
    await substrate.deleteRunner(runner.id);
    expect(await containerIdsOf(stateDir)).toEqual([]);
  }, 60_000);

  it('refuses a runner the engine will not create with SUBSTRATE_FAILED and leaves nothing behind', async () => {
    const stateDir = join(work, 'no-image');
    const substrate = substrateOn(stateDir, { runnerImage: 'mcpwarm-runner:not-in-the-engine' });
    const refused = await caught(substrate.createRunner({ pool: 'p', token: CONFORMANCE_TOKEN }));
    expect(refused.code).toBe('SUBSTRATE_FAILED');
    expect(refused.message).toContain('not-in-the-engine');
    expect(await readdir(join(stateDir, 'runners'))).toEqual([]);
    expect(await containerIdsOf(stateDir)).toEqual([]);
  });

  it('removes a labelled container that has no runner record', async () => {
    const stateDir = join(work, 'sweep');
    const substrate = substrateOn(stateDir);
    // What a controller that died between creating a container and writing its record leaves.
    const orphan = await docker.createContainer({
      Image: runnerImage.tag,
      Labels: { [LABELS.pool]: 'p', [LABELS.runner]: 'runner-000000000000', [LABELS.stateDir]: stateDir },
    });
    expect(await containerIdsOf(stateDir)).toEqual([orphan.id]);
    expect(await substrate.listRunners()).toEqual([]);
    expect(await containerExists(orphan.id)).toBe(false);
  });

  describe('with an engine that cannot be reached', () => {
    let silent: Server;
    let silentSocket: string;

    beforeAll(async () => {
      // A socket that takes connections and drops them, answering nothing.
      silentSocket = join(work, 'silent-engine.sock');
      silent = createServer((connection) => connection.destroy());
      await new Promise<void>((resolve) => silent.listen(silentSocket, resolve));
    });

    afterAll(async () => {
      await new Promise((resolve) => silent.close(resolve));
    });

    it('rejects createRunner and listRunners with DOCKER_UNAVAILABLE and leaves nothing behind', async () => {
      const cases = [
        { name: 'no-socket', socketPath: join(work, 'no-engine.sock'), runnerImage: undefined },
        { name: 'silent', socketPath: silentSocket, runnerImage: undefined },
        { name: 'silent-with-image', socketPath: silentSocket, runnerImage: runnerImage.tag },
      ];
      for (const { name, socketPath, runnerImage: image } of cases) {
        const stateDir = join(work, `unreachable-${name}`);
        const substrate = new DockerSubstrate({ stateDir, socketPath, ...(image !== undefined ? { runnerImage: image } : {}) });
        const created = await caught(substrate.createRunner({ pool: 'p', token: CONFORMANCE_TOKEN }));
        expect(created.code, `${name}: ${created.message}`).toBe('DOCKER_UNAVAILABLE');
        expect(created.message).toContain(socketPath);
        expect(await readdir(join(stateDir, 'runners'))).toEqual([]);
        expect((await caught(substrate.listRunners())).code).toBe('DOCKER_UNAVAILABLE');
        await substrate.deleteRunner('runner-never-was');
        await substrate.close();
      }
    }, 60_000);
  });

  describe('serving activations', () => {
    let images: ImageFixture;

    beforeAll(async () => {
      images = await imageFixture('mcpwarm-docker-images-');
    }, 120_000);

    afterAll(async () => {
      await images?.close();
    });

    it('activates the fixture image through a docker runner, end to end', async () => {
      const substrate = substrateOn(join(work, 'activation'));
      const created = await substrate.createRunner({ pool: 'p', token: CONFORMANCE_TOKEN, allow: [`${images.registry.address}/mcp/*`] });
      const runner = await waitForRunner(substrate, created.id, (listed) => listed.phase === 'running', 40_000);
      const headers = { authorization: `Bearer ${CONFORMANCE_TOKEN}`, 'content-type': 'application/json' };
      const answer = await fetch(new URL('/activate', runner.endpoint), { method: 'POST', headers, body: JSON.stringify({ image: images.fixture }) });
      const instance = (await answer.json()) as { instanceId: string; sandbox: string; endpoint: string; serverInfo: { name: string } };
      expect(answer.status, JSON.stringify(instance)).toBe(201);
      expect(instance).toMatchObject({ sandbox: 'bwrap', serverInfo: { name: 'mcp-fixture-server' } });

      const client = new Client({ name: 'docker-substrate-test', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(instance.endpoint, runner.endpoint), { requestInit: { headers: { authorization: `Bearer ${CONFORMANCE_TOKEN}` } } }));
      const echoed = await client.callTool({ name: 'echo', arguments: { text: 'from a docker runner' } });
      expect(JSON.stringify(echoed.content)).toContain('from a docker runner');
      await client.close();
      await substrate.deleteRunner(runner.id);
    }, 90_000);

    it('lets the pool controller serve an activation from a pool of two and refill it', async () => {
      const stateDir = join(work, 'controller');
      const substrate = substrateOn(stateDir);
      const token = await runnerToken(stateDir);
      const pool = new Pool({
        substrate,
        template: { pool: 'docker-pool', token, allow: [`${images.registry.address}/mcp/*`] },
        policy: { warmTarget: 2, maxSize: 3, maxAgeMs: 3_600_000, backoffBaseMs: 500, backoffMaxMs: 5000 },
        maxWaitMs: 30_000,
        maxQueue: 10,
        coldFallback: false,
        reconcileIntervalMs: 500,
      });
      const controller: RunningController = await startController({ host: '127.0.0.1', port: 0, pool, token: 'controller-token', leaseMs: 600_000 }, token);
      try {
        const call = async (method: string, path: string, body?: unknown) => {
          const response = await fetch(new URL(path, controller.url), {
            method,
            headers: { authorization: 'Bearer controller-token', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
            ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          });
          return { status: response.status, json: (await response.json()) as any };
        };
        const until = async (what: string, condition: () => Promise<boolean>, timeoutMs = 60_000) => {
          const deadline = Date.now() + timeoutMs;
          while (!(await condition())) {
            if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
        };
        await until('two warm runners', async () => (await call('GET', '/pool')).json.available === 2);
        expect(await containerIdsOf(stateDir)).toHaveLength(2);

        const answer = await call('POST', '/activations', { image: images.fixture });
        expect(answer.status, JSON.stringify(answer.json)).toBe(201);
        const activation = answer.json as Activation;
        expect(activation.tier).toBe('warm');
        const client = new Client({ name: 'docker-substrate-test', version: '1.0.0' });
        await client.connect(
          new StreamableHTTPClientTransport(new URL(activation.endpoint, controller.url), { requestInit: { headers: { authorization: 'Bearer controller-token' } } }),
        );
        expect((await client.listTools()).tools.length).toBeGreaterThan(0);
        await client.close();

        const used = ((await recordedAgent(stateDir, activation.runner)) as { containerId: string }).containerId;
        expect((await call('DELETE', `/activations/${activation.activationId}`)).status).toBe(200);
        // Single use: its container is destroyed, and the pool is back to two warm runners.
        await until('the used container to go', async () => !(await containerExists(used)));
        await until('the refill', async () => (await call('GET', '/pool')).json.available === 2);
        expect(await containerIdsOf(stateDir)).toHaveLength(2);
      } finally {
        await controller.close();
      }
    }, 120_000);
  });
});

/**
 * The pool controller on the kubernetes substrate, end to end against the test-only API server
 * and the kubelet double (real runner agents as local processes, one loopback address per pod),
 * with two controller replicas on one pool under the RBAC Role of deploy/base/rbac.yaml: both
 * serve claims, only the Lease holder reconciles. Warm activations served through the
 * controller's MCP relay, single-use replacement, a claimed pod deleted or evicted, watches cut
 * with the history compacted (relist), the API server unreachable (`/ready` 503 with the coded
 * reason until it is back), RBAC refusals, the claim race
 * (200 concurrent activations against a pool of 20 with zero double claims, checked on the
 * runners themselves), and leader failover. Prints the API writes per activation, the claim
 * latencies under the race and the failover time.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { startController, type Activation, type RunningController } from '../runner/controller/controller.js';
import { Pool } from '../runner/controller/pool.js';
import { API_CALLS } from '../runner/substrates/kubernetes/api-calls.js';
import { KubernetesSubstrate, type KubernetesSubstrateOptions } from '../runner/substrates/kubernetes/index.js';
import type { LeaderElector } from '../runner/substrates/kubernetes/leader-election.js';
import { defaultPodTemplate } from '../runner/substrates/kubernetes/pod-template.js';
import { summarize } from '../harness/measure/stats.js';
import { descendantProcesses, imageFixture, type ImageFixture } from './support/agent-fixture.js';
import { caught } from './support/caught.js';
import { callApi, type Answer } from './support/http-api.js';
import { isWrite, startKubeApiServer, type KubeApiServer, type PolicyRule } from './support/kube-api-server.js';
import { KubeletDouble } from './support/kubelet-double.js';

const NS = 'mcpwarm';
const POOL = 'race';
const SIZE = 20;
const CLIENT_TOKEN = 'k8s-test-client-token';
const RUNNER_TOKEN = 'k8s-test-runner-token-0123456789';
const CONTROLLER_TOKEN = 'controller-service-account-token';
const CONTROLLER_USER = 'system:serviceaccount:mcpwarm:mcpwarm-controller';

let images: ImageFixture;
let api: KubeApiServer;
let kubelet: KubeletDouble;
let kubeconfig: string;
let podTemplate: string;
let role: PolicyRule[];
const replicas: Replica[] = [];

interface Replica {
  substrate: KubernetesSubstrate;
  elector: LeaderElector;
  pool: Pool;
  controller: RunningController;
}

/** client-go's 15 s / 10 s / 2 s, scaled down. */
const ELECTION = { leaseDurationMs: 4000, renewDeadlineMs: 2500, retryPeriodMs: 500 };

function substrateOptions(extra: Partial<KubernetesSubstrateOptions> = {}): KubernetesSubstrateOptions {
  return { kubeconfig, namespace: NS, podTemplate, watchBackoff: { baseMs: 100, maxMs: 1000 }, watchTimeoutSeconds: 20, ...extra };
}

async function startReplica(identity: string): Promise<Replica> {
  const substrate = new KubernetesSubstrate(substrateOptions());
  // Only the Lease holder reconciles; both replicas serve claims.
  const elector = substrate.leaderElection({ leaseName: `mcpwarm-${POOL}`, identity, ...ELECTION, onChange: (leading) => leading && void pool.reconcile() });
  const pool: Pool = new Pool({
    substrate,
    // bwrap, as in the runner image (runc is not in it).
    template: { pool: POOL, token: RUNNER_TOKEN, sandbox: 'bwrap', allow: [`${images.registry.address}/mcp/*`] },
    policy: { warmTarget: SIZE, maxSize: SIZE * 2, maxAgeMs: 3_600_000, backoffBaseMs: 500, backoffMaxMs: 5000 },
    maxWaitMs: 200,
    maxQueue: 1000,
    coldFallback: false,
    reconcileIntervalMs: 500,
    isLeader: () => elector.isLeader(),
  });
  elector.start();
  const controller = await startController({ host: '127.0.0.1', port: 0, pool, substrate, token: CLIENT_TOKEN, leaseMs: 600_000 }, RUNNER_TOKEN);
  const replica = { substrate, elector, pool, controller };
  replicas.push(replica);
  return replica;
}

function call(url: string, method: string, path: string, body?: unknown): Promise<Answer> {
  return callApi(url, CLIENT_TOKEN, method, path, body);
}

/**
 * Waits for `condition`; a failing check counts as not yet (a poll may meet a connection the
 * server is just closing). A timeout says what the runner pods looked like then.
 */
async function until(condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await condition()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; pods: ${podSummary()}${lastError ? `; last error: ${(lastError as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function podSummary(): string {
  const counts = new Map<string, number>();
  for (const pod of api ? pods() : []) {
    const ready = pod.status.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') ? 'ready' : 'not-ready';
    const key = `${pod.metadata.labels['mcpwarm.dev/state']}/${pod.status.phase}/${ready}${pod.metadata.deletionTimestamp ? '/terminating' : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return JSON.stringify(Object.fromEntries(counts));
}

/** Runner pods as the API server holds them. */
function pods(): Array<Record<string, any>> {
  return api.store.list('pods', NS, () => true).items;
}

function warmRunning(): number {
  return pods().filter((p) => p.metadata.labels['mcpwarm.dev/state'] === 'warm' && p.status.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') && !p.metadata.deletionTimestamp).length;
}

/** Resolves once the pool holds its warm target again (pods made, whether or not ready yet). */
function refilled(): Promise<void> {
  const warm = () => pods().filter((p) => p.metadata.labels['mcpwarm.dev/state'] === 'warm' && !p.metadata.deletionTimestamp).length;
  return until(() => warm() >= SIZE, 60_000, 'the pool to make up its warm target');
}

/** An MCP client of the activation through the controller at `url`; with `sessionId`, it goes on with that session instead of opening one. */
async function mcpClient(url: string, activation: Activation, sessionId?: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'k8s-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(activation.endpoint, url), {
    requestInit: { headers: { authorization: `Bearer ${CLIENT_TOKEN}` } },
    ...(sessionId !== undefined ? { sessionId } : {}),
  });
  await client.connect(transport);
  return { client, transport };
}

/** Each runner's own record of what it was given: its instances, by runner. */
async function runnerInstances(): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  for (const runner of await replicas[0]!.substrate.listRunners(POOL)) {
    if (!runner.endpoint) continue;
    const answer = await fetch(new URL('/instances', runner.endpoint), { headers: { authorization: `Bearer ${RUNNER_TOKEN}` } });
    const listed = (await answer.json()) as { instances: Array<{ instanceId: string }> };
    found.set(runner.id, listed.instances.map((i) => i.instanceId));
  }
  return found;
}

beforeAll(async () => {
  images = await imageFixture('mcpwarm-k8s-');
  const rbac = parseAllDocuments(await readFile('deploy/base/rbac.yaml', 'utf8')).map((doc) => doc.toJSON() as { kind: string; rules?: PolicyRule[] });
  role = rbac.find((doc) => doc.kind === 'Role')!.rules!;
  api = await startKubeApiServer({
    bookmarkIntervalMs: 500,
    users: {
      [CONTROLLER_TOKEN]: { name: CONTROLLER_USER, rules: role },
      'no-patch': { name: 'no-patch', rules: role.map((rule) => ({ ...rule, verbs: rule.verbs.filter((verb) => verb !== 'patch') })) },
    },
  });
  kubeconfig = await api.writeKubeconfig(join(images.work, 'kubeconfig'), { token: CONTROLLER_TOKEN, namespace: NS });
  // Every pod listens on its own loopback address, on a port unlikely to be taken on 0.0.0.0.
  const template = defaultPodTemplate('mcpwarm/runner:test');
  template.spec!.containers[0]!.ports![0]!.containerPort = 20_000 + Math.floor(Math.random() * 20_000);
  podTemplate = join(images.work, 'runner-pod.yaml');
  await writeFile(podTemplate, stringify(template));
  kubelet = new KubeletDouble({ store: api.store, workDir: join(images.work, 'node'), secrets: { 'mcpwarm-runner-token': { 'runner-token': RUNNER_TOKEN } } });
  kubelet.start();
  await startReplica('replica-a');
  await startReplica('replica-b');
  await until(async () => (await Promise.all(replicas.map((r) => call(r.controller.url, 'GET', '/ready')))).every((a) => a.status === 200), 150_000, 'both replicas ready');
}, 240_000);

afterAll(async () => {
  for (const replica of replicas) await replica.controller.close().catch(() => undefined);
  for (const replica of replicas) await replica.elector.stop();
  for (const replica of replicas) await replica.substrate.close();
  await kubelet?.stop();
  await api?.close();
  await images?.close();
  const left = (await descendantProcesses()).filter((p) => p.cmdline.includes(' agent ') || p.cmdline.includes('mcpwarm'));
  expect(left).toEqual([]);
}, 120_000);

describe('a pool of runner pods served by two controller replicas', () => {
  it('keeps the warm target as labelled pods, seen alike by both replicas', async () => {
    await until(() => warmRunning() >= SIZE, 60_000, 'twenty ready warm pods');
    const runner = pods()[0]!;
    expect(runner.metadata.name).toMatch(/^mcp-runner-[a-z0-9]{5}$/);
    expect(runner.metadata.labels).toMatchObject({ 'app.kubernetes.io/component': 'mcp-runner', 'mcpwarm.dev/pool': POOL });
    expect(runner.spec.containers[0].env).toContainEqual({ name: 'MCPWARM_TOKEN', valueFrom: { secretKeyRef: { name: 'mcpwarm-runner-token', key: 'runner-token' } } });
    const seen = await Promise.all(replicas.map(async (r) => (await r.substrate.listRunners(POOL)).map((x) => `${x.id}@${x.version}`).sort()));
    await until(async () => {
      const [a, b] = await Promise.all(replicas.map(async (r) => (await r.substrate.listRunners(POOL)).map((x) => `${x.id}@${x.version}`).sort().join()));
      return a === b;
    }, 10_000, 'both informers to agree');
    expect(seen[0]!.length).toBeGreaterThanOrEqual(SIZE);
  }, 180_000);

  it('activates through one replica, serves MCP through either, ends through the other, and replaces the runner pod afterwards', async () => {
    const [url, other] = [replicas[1]!.controller.url, replicas[0]!.controller.url];
    const answer = await call(url, 'POST', '/activations', { image: images.fixture });
    expect(answer.status, JSON.stringify(answer.json)).toBe(201);
    const activation = answer.json as Activation;
    expect(activation.tier).toBe('warm');
    const claimed = api.store.get('pods', NS, activation.runner);
    expect(claimed.metadata.labels['mcpwarm.dev/state']).toBe('claimed');
    expect(claimed.metadata.annotations['mcpwarm.dev/activation']).toBe(activation.activationId);

    const first = await mcpClient(url, activation);
    const echoed = await first.client.callTool({ name: 'echo', arguments: { text: 'through the controller' } });
    expect(JSON.stringify(echoed.content)).toContain('through the controller');
    await first.client.close();

    // Behind a Service a client's next request may reach the other replica: it finds the activation on its runner,
    // and the client's session goes on there.
    const seen = await call(other, 'GET', `/activations/${activation.activationId}`);
    expect(seen.status, JSON.stringify(seen.json)).toBe(200);
    expect(seen.json).toMatchObject({ activationId: activation.activationId, runner: activation.runner, tier: 'warm', recovered: true });
    const resumed = await mcpClient(other, activation, first.transport.sessionId);
    expect(JSON.stringify((await resumed.client.callTool({ name: 'echo', arguments: { text: 'through the other replica' } })).content)).toContain('through the other replica');
    await resumed.transport.terminateSession();
    await resumed.client.close();

    expect((await call(other, 'DELETE', `/activations/${activation.activationId}`)).status).toBe(200);
    await until(() => !pods().some((p) => p.metadata.name === activation.runner), 30_000, 'the used pod to go');
    // The replica that made it learns from the pod's deletion that it has ended.
    await until(async () => (await call(url, 'GET', `/activations/${activation.activationId}`)).status === 404, 30_000, 'the first replica to see it ended');
    await refilled();
  }, 180_000);

  it.each(['deleted', 'evicted'] as const)('fails an activation whose runner pod is %s, cleanly, and replaces the runner', async (fate) => {
    const url = replicas[0]!.controller.url;
    const answer = await call(url, 'POST', '/activations', { image: images.fixture });
    expect(answer.status, JSON.stringify(answer.json)).toBe(201);
    const activation = answer.json as Activation;
    if (fate === 'deleted') api.store.delete('pods', NS, activation.runner, { gracePeriodSeconds: 1 });
    else await kubelet.evict(NS, activation.runner);
    await until(async () => (await call(url, 'GET', `/activations/${activation.activationId}`)).status === 404, 30_000, 'the activation to end');
    const relayed = await call(url, 'POST', activation.endpoint, { jsonrpc: '2.0', id: 1, method: 'ping' });
    expect(relayed.status).toBe(404);
    expect(relayed.json.error.code).toBe('INSTANCE_NOT_FOUND');
    await until(() => !pods().some((p) => p.metadata.name === activation.runner), 30_000, 'the pod to go');
    await refilled();
  }, 180_000);

  it('relists after its watches are cut and the history compacted, answers coded errors and is not ready while the API server is away', async () => {
    const listsBefore = api.requests.filter((r) => r.user === CONTROLLER_USER && r.verb === 'list').length;
    const victim = pods().find((p) => p.metadata.labels['mcpwarm.dev/state'] === 'warm')!.metadata.name as string;
    const readiness = () => Promise.all(replicas.map((r) => call(r.controller.url, 'GET', '/ready')));
    expect((await readiness()).map((a) => a.status)).toEqual([200, 200]);
    const stoppedAt = performance.now();
    await api.pause();
    let notReadyMs = Number.NaN;
    try {
      // Within the informer's backoff (here at most 1 s), /ready turns 503 with the coded reason.
      await until(async () => (await readiness()).every((a) => a.status === 503 && a.json.substrate?.reason?.code === 'KUBERNETES_UNREACHABLE'), 10_000, '/ready to turn 503');
      notReadyMs = performance.now() - stoppedAt;
      const [ready] = await readiness();
      expect(ready!.json).toMatchObject({ ready: false, substrate: { ok: false, reason: { code: 'KUBERNETES_UNREACHABLE', message: expect.stringContaining('did not answer') } } });
      const status = (await call(replicas[0]!.controller.url, 'GET', '/pool')).json;
      expect(status.substrate).toMatchObject({ ok: false, reason: { code: 'KUBERNETES_UNREACHABLE', since: expect.any(String) } });
      expect(replicas.every((r) => !r.substrate.connected)).toBe(true);
      // Claims need the API server: a coded 503, not a hang or a double claim.
      const refused = await call(replicas[0]!.controller.url, 'POST', '/activations', { image: images.fixture });
      expect(refused.status).toBe(503);
      expect(refused.json.error.code).toBe('KUBERNETES_UNREACHABLE');
      // Changes the replicas cannot see, then a history too short to replay them.
      api.store.delete('pods', NS, victim, { gracePeriodSeconds: 0 });
      api.store.compact();
    } finally {
      await api.listen();
    }
    const restartedAt = performance.now();
    await until(async () => (await readiness()).every((a) => a.status === 200 && a.json.substrate.ok === true), 30_000, '/ready to turn 200 again');
    process.stderr.write(`API server away: /ready 503 ${notReadyMs.toFixed(0)} ms after it stopped, 200 again ${(performance.now() - restartedAt).toFixed(0)} ms after it was back (informer backoff 100 ms to 1 s)\n`);
    await until(() => replicas.every((r) => r.substrate.connected), 30_000, 'both informers back');
    await until(async () => (await Promise.all(replicas.map((r) => r.substrate.listRunners(POOL)))).every((runners) => !runners.some((x) => x.id === victim)), 30_000, 'the relist to drop the deleted pod');
    expect(api.requests.filter((r) => r.user === CONTROLLER_USER && r.verb === 'list').length).toBeGreaterThanOrEqual(listsBefore + 2);
    await until(async () => !(await call(replicas[1]!.controller.url, 'GET', '/pool')).json.runnerList.some((x: { id: string }) => x.id === victim), 10_000, 'the pool view to drop it');
    await refilled();
  }, 180_000);

  it('200 concurrent activations against a pool of 20 over two replicas: no runner serves two, the rest get a coded 503', async () => {
    await until(() => warmRunning() >= SIZE, 120_000, 'a full pool');
    const firstRequest = api.requests.length;
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => ({ ...(await call(replicas[i % 2]!.controller.url, 'POST', '/activations', { image: images.fixture })), via: replicas[i % 2]!.controller.url })),
    );
    const burstMs = performance.now() - started;
    const burstRequests = api.requests.slice(firstRequest).filter((r) => r.user === CONTROLLER_USER);
    const succeeded = answers.filter((a) => a.status === 201).map((a) => ({ ...(a.json as Activation), via: a.via }));

    // API writes, from the API server's log: those on each served activation's own pod during the
    // burst (its claim and whatever else the activation wrote), lost compare-and-sets, pool upkeep.
    const served = new Set(succeeded.map((a) => a.runner));
    const podWrites = (requests: typeof burstRequests, verb: string, status?: number) => requests.filter((r) => r.resource === 'pods' && r.verb === verb && (status === undefined || r.status === status));
    const perActivation = succeeded.map((a) => podWrites(burstRequests, 'patch', 200).filter((r) => r.name === a.runner).length);
    const lost = podWrites(burstRequests, 'patch', 409).length;
    const claim = summarize(succeeded.map((a) => a.phases.claimMs!));
    const total = summarize(succeeded.map((a) => a.phases.totalMs!));
    process.stderr.write(
      [
        `claim race, kubernetes substrate, 2 replicas, test API server: ${succeeded.length} of 200 served, ${answers.length - succeeded.length} refused, burst ${burstMs.toFixed(0)} ms`,
        `  claim (compare-and-set loop) p50 ${claim.p50.toFixed(1)} ms, p99 ${claim.p99.toFixed(1)} ms; activation total p50 ${total.p50.toFixed(1)} ms, p99 ${total.p99.toFixed(1)} ms`,
        `  API writes per served activation: ${(perActivation.reduce((a, b) => a + b, 0) / Math.max(1, succeeded.length)).toFixed(2)} (max ${Math.max(0, ...perActivation)}); lost compare-and-sets (409) ${lost} (${(lost / Math.max(1, succeeded.length)).toFixed(2)} per activation); successful patches on other pods ${podWrites(burstRequests, 'patch', 200).filter((r) => !served.has(r.name!)).length}`,
        `  pool upkeep during the burst: ${podWrites(burstRequests, 'create').length} pods created, ${podWrites(burstRequests, 'delete').length} deleted`,
      ].join('\n') + '\n',
    );

    for (const refused of answers.filter((a) => a.status !== 201)) {
      expect(refused.status, JSON.stringify(refused.json)).toBe(503);
      expect(refused.json.error.code).toBe('POOL_EXHAUSTED');
    }
    expect(succeeded.length).toBeGreaterThanOrEqual(SIZE);
    expect(succeeded.length).toBeLessThanOrEqual(SIZE * 2);
    expect(new Set(succeeded.map((a) => a.runner)).size).toBe(succeeded.length);
    expect(Math.max(...perActivation)).toBeLessThanOrEqual(2);

    // The runners' own records: each holds exactly the one instance it was given.
    const held = await runnerInstances();
    let instances = 0;
    for (const [runner, ids] of held) {
      expect(ids).toEqual(succeeded.filter((a) => a.runner === runner).map((a) => a.activationId));
      instances += ids.length;
    }
    expect(instances).toBe(succeeded.length);

    const firstRelease = api.requests.length;
    // An activation is known to the replica that made it.
    await Promise.all(succeeded.map(async (a) => expect((await call(a.via, 'DELETE', `/activations/${a.activationId}`)).status).toBe(200)));
    await until(() => succeeded.every((a) => !pods().some((p) => p.metadata.name === a.runner)), 60_000, 'the used pods to go');
    const releaseRequests = api.requests.slice(firstRelease).filter((r) => r.user === CONTROLLER_USER);
    process.stderr.write(
      `  ending the ${succeeded.length}: ${releaseRequests.filter(isWrite).length} writes (patch ${podWrites(releaseRequests, 'patch').length}, delete ${podWrites(releaseRequests, 'delete').length}, create ${podWrites(releaseRequests, 'create').length})\n`,
    );
  }, 240_000);

  it('fails over: when the leader dies, the other replica takes the Lease within its duration and keeps the pool', async () => {
    await until(() => replicas.filter((r) => r.elector.isLeader()).length === 1, 10_000, 'one leader');
    const leader = replicas.find((r) => r.elector.isLeader())!;
    const follower = replicas.find((r) => r !== leader)!;
    // A crash: it stops renewing and answering, without giving the Lease up.
    const killed = performance.now();
    await leader.elector.stop(false);
    await leader.controller.close();
    await until(() => follower.elector.isLeader(), ELECTION.leaseDurationMs + 4 * ELECTION.retryPeriodMs, 'the takeover');
    const tookMs = performance.now() - killed;
    process.stderr.write(`leader failover: the follower led ${tookMs.toFixed(0)} ms after the leader died (lease ${ELECTION.leaseDurationMs} ms, retry ${ELECTION.retryPeriodMs} ms)\n`);
    expect(api.store.get('leases', NS, `mcpwarm-${POOL}`).spec.holderIdentity).toBe(follower.elector.identity);
    // The new leader keeps the pool: a warm pod lost behind its back is made up for.
    const lostPod = pods().find((p) => p.metadata.labels['mcpwarm.dev/state'] === 'warm')!.metadata.name as string;
    api.store.delete('pods', NS, lostPod, { gracePeriodSeconds: 0 });
    await refilled();
    const answer = await call(follower.controller.url, 'POST', '/activations', { image: images.fixture });
    expect(answer.status, JSON.stringify(answer.json)).toBe(201);
    expect((await call(follower.controller.url, 'DELETE', `/activations/${(answer.json as Activation).activationId}`)).status).toBe(200);
  }, 180_000);

  it('claimed no runner pod twice over the whole run (from the API server log)', () => {
    const claims = new Map<string, number>();
    for (const request of api.requests) {
      const labels = (request.body as { metadata?: { labels?: Record<string, string> } } | undefined)?.metadata?.labels;
      if (request.resource === 'pods' && request.verb === 'patch' && request.status === 200 && labels?.['mcpwarm.dev/state'] === 'claimed') claims.set(request.name!, (claims.get(request.name!) ?? 0) + 1);
    }
    expect(claims.size).toBeGreaterThanOrEqual(SIZE);
    expect([...claims].filter(([, n]) => n > 1)).toEqual([]);
  });

  it('made only the API calls its Role grants, and was never refused', () => {
    const made = api.requests.filter((r) => r.user === CONTROLLER_USER);
    const granted = new Set(Object.values(API_CALLS).map((c) => `${c.verb} ${c.resource} ${c.group}`));
    const calls = new Set(made.map((r) => `${r.verb} ${r.resource} ${r.group}`));
    expect([...calls].filter((c) => !granted.has(c))).toEqual([]);
    expect(made.filter((r) => r.status === 403 || r.status === 401)).toEqual([]);
  });
});

describe('faults outside the pool', () => {
  it('refuses a claim the Role does not allow with KUBERNETES_FORBIDDEN naming the verb and resource', async () => {
    const limited = new KubernetesSubstrate(substrateOptions({ kubeconfig: await api.writeKubeconfig(join(images.work, 'no-patch'), { token: 'no-patch', namespace: NS }) }));
    try {
      const runner = (await limited.listRunners(POOL))[0]!;
      const error = await caught(limited.updateRunner(runner.id, runner.version, { state: 'claimed' }));
      expect(error.code).toBe('KUBERNETES_FORBIDDEN');
      expect(error.message).toContain('patch pods in namespace mcpwarm');
      expect(error.details).toMatchObject({ verb: 'patch', resource: 'pods', status: 403 });
    } finally {
      await limited.close();
    }
  });

  it('fails to start a pool with KUBERNETES_UNREACHABLE when the API server does not answer, and USAGE_INVALID for a bad template', async () => {
    const nowhere = join(images.work, 'nowhere');
    await writeFile(nowhere, stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: { server: 'http://127.0.0.1:9', 'insecure-skip-tls-verify': true } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }));
    const unreachable = new KubernetesSubstrate(substrateOptions({ kubeconfig: nowhere }));
    try {
      const error = await caught(unreachable.listRunners());
      expect(error.code).toBe('KUBERNETES_UNREACHABLE');
      expect(error.message).toContain('http://127.0.0.1:9');
      expect(unreachable.connected).toBe(false);
    } finally {
      await unreachable.close();
    }
    const badTemplate = join(images.work, 'bad-template.yaml');
    await writeFile(badTemplate, stringify({ kind: 'Pod', spec: { containers: [{ name: 'main', image: 'x' }] } }));
    const misconfigured = new KubernetesSubstrate(substrateOptions({ podTemplate: badTemplate }));
    try {
      expect((await caught(misconfigured.listRunners())).code).toBe('USAGE_INVALID');
    } finally {
      await misconfigured.close();
    }
    expect(() => new KubernetesSubstrate({ kubeconfig: join(images.work, 'missing-kubeconfig') })).toThrow(expect.objectContaining({ code: 'USAGE_INVALID' }));
  });
});

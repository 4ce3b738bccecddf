/**
 * The kubernetes substrate against the test-only API server, without runner agents (the tests
 * play the kubelet by writing pod status): pods as runners, compare-and-set claims from two
 * substrates at once, deletion, and the informer: events, resuming a cut watch from its last
 * version, relisting after 410 Gone, and reconnecting after the API server was away.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startKubeApiServer, type KubeApiServer } from '../../../test/support/kube-api-server.js';
import { caught } from '../../../test/support/caught.js';
import type { Runner, RunnerEvent } from '../types.js';
import { KubernetesSubstrate } from './index.js';

const NS = 'substrate';
const TEMPLATE = { pool: 'p', token: 'unused-here' };
let work: string;
let server: KubeApiServer;
let kubeconfig: string;
const open: KubernetesSubstrate[] = [];

function substrate(): KubernetesSubstrate {
  const made = new KubernetesSubstrate({ kubeconfig, namespace: NS, watchBackoff: { baseMs: 50, maxMs: 200 } });
  open.push(made);
  return made;
}

/** What a kubelet reports once the pod's agent is ready. */
function markReady(name: string, ip = '10.0.0.7'): void {
  server.store.bind(NS, name, 'node-a');
  server.store.patch('pods', NS, name, { status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: 'True' }] } }, 'status');
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function recorder(on: KubernetesSubstrate): RunnerEvent[] {
  const events: RunnerEvent[] = [];
  on.watch((event) => events.push(event));
  return events;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mcpwarm-k8s-substrate-'));
  server = await startKubeApiServer({ bookmarkIntervalMs: 100 });
  kubeconfig = await server.writeKubeconfig(join(work, 'kubeconfig'), { namespace: NS });
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

describe('KubernetesSubstrate', () => {
  it('creates a runner as a labelled pod, and every substrate on the namespace sees it become ready', async () => {
    const a = substrate();
    const b = substrate();
    const seen = recorder(b);
    await b.listRunners();
    const created = await a.createRunner(TEMPLATE);
    expect(created).toMatchObject({ pool: 'p', state: 'warm', phase: 'pending', annotations: {} });
    expect(created.id).toMatch(/^mcp-runner-[a-z0-9]{5}$/);
    expect((await a.listRunners('p')).map((r) => r.id)).toContain(created.id);
    expect(await a.listRunners('other')).toEqual([]);
    markReady(created.id);
    await until(() => seen.some((e) => e.runner.id === created.id && e.runner.phase === 'running'), 'b to see it ready');
    const ready = seen.find((e) => e.runner.phase === 'running')!.runner;
    expect(ready.endpoint).toBe('http://10.0.0.7:8080');
    expect(seen.find((e) => e.runner.id === created.id)?.type).toBe('added');
  });

  it('lets exactly one of 50 concurrent claims from two substrates through, the rest RUNNER_CONFLICT, with one request per substrate', async () => {
    const a = substrate();
    const b = substrate();
    const runner = await a.createRunner(TEMPLATE);
    markReady(runner.id);
    await until(async () => (await b.listRunners()).some((r) => r.id === runner.id && r.phase === 'running'), 'b to see it');
    const current = (await b.listRunners()).find((r) => r.id === runner.id)!;
    const patches = () => server.requests.filter((r) => r.verb === 'patch' && r.name === runner.id).length;
    const before = patches();
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).updateRunner(runner.id, current.version, { state: 'claimed', annotations: { 'mcpwarm.dev/activation': `a-${i}` } })),
    );
    const won = results.filter((r): r is PromiseFulfilledResult<Runner> => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    expect(won[0]!.value).toMatchObject({ state: 'claimed', annotations: { 'mcpwarm.dev/activation': expect.stringMatching(/^a-\d+$/) } });
    for (const lost of results.filter((r) => r.status === 'rejected')) expect((lost as PromiseRejectedResult).reason.code).toBe('RUNNER_CONFLICT');
    // Of the claims at one version, each substrate sent only its first: the rest could only lose.
    expect(patches() - before).toBe(2);
    // Once a substrate's cache holds the winner's version, a claim at the old one is refused without a request.
    await until(async () => (await b.listRunners()).find((r) => r.id === runner.id)?.version === won[0]!.value.version, 'b to see the winner');
    const sent = patches();
    expect((await caught(b.updateRunner(runner.id, current.version, { state: 'claimed' }))).code).toBe('RUNNER_CONFLICT');
    expect(patches()).toBe(sent);
    const pod = server.store.get('pods', NS, runner.id);
    expect(pod.metadata.labels['mcpwarm.dev/state']).toBe('claimed');
    expect(pod.metadata.resourceVersion).toBe(won[0]!.value.version);
    expect((await caught(a.updateRunner('mcp-runner-none0', '1', { state: 'draining' }))).code).toBe('RUNNER_NOT_FOUND');
    expect((await caught(a.updateRunner(runner.id, won[0]!.value.version, { annotations: { owner: 'x' } }))).code).toBe('USAGE_INVALID');
    const cleared = await a.updateRunner(runner.id, won[0]!.value.version, { annotations: { 'mcpwarm.dev/activation': null } });
    expect(cleared.annotations).toEqual({});
  });

  it('deletes a running runner gracefully (gone at once, one request), and a missing one quietly', async () => {
    const a = substrate();
    const seen = recorder(a);
    const runner = await a.createRunner(TEMPLATE);
    markReady(runner.id);
    await until(() => seen.some((e) => e.runner.id === runner.id && e.runner.phase === 'running'), 'ready');
    const deletes = () => server.requests.filter((r) => r.verb === 'delete' && r.name === runner.id).length;
    await a.deleteRunner(runner.id);
    expect((await a.listRunners()).find((r) => r.id === runner.id)?.phase).toBe('gone');
    await a.deleteRunner(runner.id);
    expect(deletes()).toBe(1);
    server.store.delete('pods', NS, runner.id, { gracePeriodSeconds: 0 });
    await until(() => seen.some((e) => e.type === 'deleted' && e.runner.id === runner.id), 'the deletion');
    expect(seen.find((e) => e.type === 'deleted')?.runner.phase).toBe('gone');
    await a.deleteRunner('mcp-runner-none1');
  });

  it('resumes a cut watch from the last version it saw, without listing again', async () => {
    const a = substrate();
    const seen = recorder(a);
    await a.listRunners();
    const lists = () => server.requests.filter((r) => r.verb === 'list').length;
    const listed = lists();
    server.dropWatches();
    const made = server.store.create('pods', NS, { metadata: { generateName: 'mcp-runner-', labels: { 'app.kubernetes.io/component': 'mcp-runner', 'mcpwarm.dev/pool': 'p', 'mcpwarm.dev/state': 'warm' } }, spec: { containers: [{ name: 'agent', image: 'i' }] } });
    await until(() => seen.some((e) => e.runner.id === made.metadata.name), 'the change made while the watch was cut');
    expect(lists()).toBe(listed);
  });

  it('relists after 410 Gone and tells what changed while it was away; serves its cache and reports itself unhealthy meanwhile', async () => {
    const a = substrate();
    const seen = recorder(a);
    const kept = await a.createRunner(TEMPLATE);
    const removed = await a.createRunner(TEMPLATE);
    await until(async () => (await a.listRunners()).length >= 2, 'both runners');
    expect(a.health()).toEqual({ ok: true });
    const lists = server.requests.filter((r) => r.verb === 'list').length;
    const pausedAt = Date.now();
    await server.pause();
    try {
      await until(() => !a.connected, 'the informer to notice');
      const health = a.health();
      expect(health.ok).toBe(false);
      if (health.ok) return;
      expect(health.reason.code).toBe('KUBERNETES_UNREACHABLE');
      expect(health.reason.message).toContain(`did not answer (watch pods in namespace ${NS})`);
      expect(Date.parse(health.reason.since)).toBeGreaterThanOrEqual(pausedAt - 1000);
      expect((await a.listRunners()).map((r) => r.id)).toEqual(expect.arrayContaining([kept.id, removed.id]));
      expect((await caught(a.createRunner(TEMPLATE))).code).toBe('KUBERNETES_UNREACHABLE');
      server.store.delete('pods', NS, removed.id);
      markReady(kept.id);
      server.store.compact();
    } finally {
      await server.listen();
    }
    await until(() => a.connected, 'the informer to reconnect');
    expect(a.health()).toEqual({ ok: true });
    await until(() => seen.some((e) => e.type === 'deleted' && e.runner.id === removed.id), 'the missed deletion');
    await until(() => seen.some((e) => e.type === 'modified' && e.runner.id === kept.id && e.runner.phase === 'running'), 'the missed change');
    expect(server.requests.filter((r) => r.verb === 'list').length).toBeGreaterThan(lists);
    expect((await a.listRunners()).map((r) => r.id)).not.toContain(removed.id);
  });
});

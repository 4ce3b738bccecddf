/**
 * The test-only Kubernetes API server, through @kubernetes/client-node as a cluster's clients use
 * it: names, selectors, merge patches guarded by resourceVersion, the status subresource, graceful
 * deletion, watches (order, bookmarks, selector transitions, 410 Gone, timeouts, dropped
 * streams), leases and events, Status errors, RBAC, and pausing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, CoordinationV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, Watch, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeApiServer, type KubeApiServer } from './support/kube-api-server.js';

const NS = 'kube-test';
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
let work: string;
let server: KubeApiServer;
let core: CoreV1Api;
let config: KubeConfig;

async function clientFor(token: string | undefined, target: KubeApiServer = server): Promise<KubeConfig> {
  const kc = new KubeConfig();
  kc.loadFromFile(await target.writeKubeconfig(join(work, `kubeconfig-${token ?? 'none'}-${Math.random()}`), { ...(token ? { token } : {}), namespace: NS }));
  return kc;
}

function pod(labels: Record<string, string> = {}, name?: string): V1Pod {
  return { metadata: { ...(name ? { name } : { generateName: 'p-' }), labels }, spec: { containers: [{ name: 'c', image: 'i' }] } };
}

/** The Status a call failed with. */
async function statusOf(promise: Promise<unknown>): Promise<{ code: number; reason: string; message: string; details?: Record<string, unknown>; kind: string }> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ApiException);
    return JSON.parse((error as ApiException<string>).body) as never;
  }
  throw new Error('expected the call to fail');
}

interface Recorded {
  events: Array<{ type: string; object: any }>;
  done: Promise<unknown>;
  stop(): void;
}

async function watchPods(kc: KubeConfig, query: Record<string, string | boolean | number>): Promise<Recorded> {
  const events: Recorded['events'] = [];
  let finish!: (value: unknown) => void;
  const done = new Promise((resolve) => (finish = resolve));
  const controller = await new Watch(kc).watch(`/api/v1/namespaces/${NS}/pods`, query, (type, object) => events.push({ type, object }), (error) => finish(error ?? 'closed'));
  return { events, done, stop: () => controller.abort() };
}

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mcpwarm-kube-api-'));
  server = await startKubeApiServer({ bookmarkIntervalMs: 100, historyLimit: 50 });
  config = await clientFor(undefined);
  core = config.makeApiClient(CoreV1Api);
});

afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

describe('objects', () => {
  it('creates with a generated name, a uid and a growing resourceVersion, and reads it back', async () => {
    const first = await core.createNamespacedPod({ namespace: NS, body: pod({ app: 'a' }) });
    const second = await core.createNamespacedPod({ namespace: NS, body: pod({ app: 'a' }) });
    expect(first.metadata?.name).toMatch(/^p-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(first.metadata?.uid).not.toBe(second.metadata?.uid);
    expect(Number(second.metadata?.resourceVersion)).toBeGreaterThan(Number(first.metadata?.resourceVersion));
    expect(first.status?.phase).toBe('Pending');
    const read = await core.readNamespacedPod({ name: first.metadata!.name!, namespace: NS });
    expect(read.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
  });

  it('answers Status objects shaped like the real ones', async () => {
    const missing = await statusOf(core.readNamespacedPod({ name: 'nope', namespace: NS }));
    expect(missing).toMatchObject({ kind: 'Status', code: 404, reason: 'NotFound', message: 'pods "nope" not found', details: { name: 'nope', kind: 'pods' } });
    await core.createNamespacedPod({ namespace: NS, body: pod({}, 'fixed-name') });
    expect(await statusOf(core.createNamespacedPod({ namespace: NS, body: pod({}, 'fixed-name') }))).toMatchObject({ code: 409, reason: 'AlreadyExists' });
    const invalid = await statusOf(core.createNamespacedPod({ namespace: NS, body: pod({ 'bad key!': 'x' }, 'Bad_Name') }));
    expect(invalid).toMatchObject({ code: 422, reason: 'Invalid', details: { kind: 'Pod' } });
    expect(invalid.message).toContain('metadata.name');
    expect(invalid.message).toContain('metadata.labels');
  });

  it('lists with equality, inequality, set-based and existence selectors', async () => {
    const ns = 'selectors';
    const sets: Array<Record<string, string>> = [{ tier: 'web', env: 'prod' }, { tier: 'db', env: 'prod' }, { tier: 'web' }, { other: 'x' }];
    for (const labels of sets) await core.createNamespacedPod({ namespace: ns, body: pod(labels) });
    const count = async (labelSelector: string) => (await core.listNamespacedPod({ namespace: ns, labelSelector })).items.length;
    expect(await count('tier=web')).toBe(2);
    expect(await count('tier==web,env=prod')).toBe(1);
    expect(await count('tier!=web')).toBe(2);
    expect(await count('tier in (web, db)')).toBe(3);
    expect(await count('tier notin (web)')).toBe(2);
    expect(await count('env')).toBe(2);
    expect(await count('!env')).toBe(2);
    expect(await count('env,tier notin (db)')).toBe(1);
    const list = await core.listNamespacedPod({ namespace: ns });
    expect(list.items).toHaveLength(4);
    expect(Number(list.metadata?.resourceVersion)).toBeGreaterThanOrEqual(Math.max(...list.items.map((p) => Number(p.metadata?.resourceVersion))));
    expect((await statusOf(core.listNamespacedPod({ namespace: ns, labelSelector: 'tier in (web' }))).code).toBe(400);
  });
});

describe('merge patch', () => {
  it('merges labels and annotations (null removes), refuses a stale resourceVersion with 409, and writes nothing for a no-op', async () => {
    const created = await core.createNamespacedPod({ namespace: NS, body: { ...pod({ state: 'warm' }), metadata: { generateName: 'm-', labels: { state: 'warm' }, annotations: { keep: '1', drop: '2' } } } });
    const name = created.metadata!.name!;
    const version = created.metadata!.resourceVersion!;
    const body = { metadata: { resourceVersion: version, labels: { state: 'claimed' }, annotations: { drop: null, added: 'yes' } } };
    const patched = await core.patchNamespacedPod({ name, namespace: NS, body }, merge);
    expect(patched.metadata?.labels).toEqual({ state: 'claimed' });
    expect(patched.metadata?.annotations).toEqual({ keep: '1', added: 'yes' });
    expect(patched.metadata?.resourceVersion).not.toBe(version);

    const conflict = await statusOf(core.patchNamespacedPod({ name, namespace: NS, body }, merge));
    expect(conflict).toMatchObject({ code: 409, reason: 'Conflict', details: { name, kind: 'pods' } });
    expect(conflict.message).toContain('the object has been modified');

    const same = await core.patchNamespacedPod({ name, namespace: NS, body: { metadata: { labels: { state: 'claimed' } } } }, merge);
    expect(same.metadata?.resourceVersion).toBe(patched.metadata?.resourceVersion);
  });

  it('keeps a pod status to the status subresource, and its spec as it was', async () => {
    const created = await core.createNamespacedPod({ namespace: NS, body: pod() });
    const name = created.metadata!.name!;
    const ignored = await core.patchNamespacedPod({ name, namespace: NS, body: { status: { phase: 'Running' }, metadata: { labels: { a: 'b' } } } }, merge);
    expect(ignored.status?.phase).toBe('Pending');
    const status = await core.patchNamespacedPodStatus({ name, namespace: NS, body: { status: { phase: 'Running', podIP: '10.0.0.1' }, metadata: { labels: { c: 'd' } } } }, merge);
    expect(status.status).toMatchObject({ phase: 'Running', podIP: '10.0.0.1' });
    expect(status.metadata?.labels).toEqual({ a: 'b' });
    expect((await statusOf(core.patchNamespacedPod({ name, namespace: NS, body: { spec: { hostNetwork: true } } }, merge))).code).toBe(422);
    expect((await statusOf(core.patchNamespacedPod({ name, namespace: NS, body: [] }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch)))).code).toBe(415);
  });
});

describe('delete', () => {
  it('deletes a pod bound to a node gracefully (deletionTimestamp, then gone on grace 0) and an unbound one at once', async () => {
    const bound = await core.createNamespacedPod({ namespace: NS, body: pod() });
    const name = bound.metadata!.name!;
    server.store.bind(NS, name, 'node-1');
    const terminating = await core.deleteNamespacedPod({ name, namespace: NS, gracePeriodSeconds: 20 });
    expect(terminating.metadata?.deletionTimestamp).toBeDefined();
    expect(terminating.metadata?.deletionGracePeriodSeconds).toBe(20);
    expect((await core.readNamespacedPod({ name, namespace: NS })).metadata?.deletionTimestamp).toBeDefined();
    await core.deleteNamespacedPod({ name, namespace: NS, gracePeriodSeconds: 0 });
    expect((await statusOf(core.readNamespacedPod({ name, namespace: NS }))).code).toBe(404);

    const unbound = await core.createNamespacedPod({ namespace: NS, body: pod() });
    await core.deleteNamespacedPod({ name: unbound.metadata!.name!, namespace: NS });
    expect((await statusOf(core.readNamespacedPod({ name: unbound.metadata!.name!, namespace: NS }))).code).toBe(404);
    expect((await statusOf(core.deleteNamespacedPod({ name: unbound.metadata!.name!, namespace: NS }))).code).toBe(404);
  });
});

describe('watch', () => {
  it('streams changes after a resourceVersion in order, with bookmarks, and sees objects leave and enter the selector', async () => {
    const start = (await core.listNamespacedPod({ namespace: NS, labelSelector: 'role=w' })).metadata!.resourceVersion!;
    const watch = await watchPods(config, { resourceVersion: start, labelSelector: 'role=w', allowWatchBookmarks: true });
    const created = await core.createNamespacedPod({ namespace: NS, body: pod({ role: 'w' }) });
    const name = created.metadata!.name!;
    await core.createNamespacedPod({ namespace: NS, body: pod({ role: 'other' }) });
    await core.patchNamespacedPod({ name, namespace: NS, body: { metadata: { annotations: { n: '1' } } } }, merge);
    await core.patchNamespacedPod({ name, namespace: NS, body: { metadata: { labels: { role: 'gone' } } } }, merge);
    await core.patchNamespacedPod({ name, namespace: NS, body: { metadata: { labels: { role: 'w' } } } }, merge);
    await core.deleteNamespacedPod({ name, namespace: NS });
    await until(() => watch.events.filter((e) => e.type !== 'BOOKMARK').length >= 5 && watch.events.some((e) => e.type === 'BOOKMARK'), 'the events and a bookmark');
    watch.stop();
    const changes = watch.events.filter((e) => e.type !== 'BOOKMARK');
    expect(changes.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED', 'ADDED', 'DELETED']);
    expect(changes.every((e) => e.object.metadata.name === name)).toBe(true);
    const versions = changes.map((e) => Number(e.object.metadata.resourceVersion));
    expect([...versions].sort((a, b) => a - b)).toEqual(versions);
    const bookmark = watch.events.find((e) => e.type === 'BOOKMARK')!;
    expect(bookmark.object).toMatchObject({ kind: 'Pod', apiVersion: 'v1' });
    expect(Number(bookmark.object.metadata.resourceVersion)).toBeGreaterThanOrEqual(Number(start));
  });

  it('starts with the current objects as ADDED when no resourceVersion is given', async () => {
    const ns = 'initial';
    await core.createNamespacedPod({ namespace: ns, body: pod({ x: '1' }) });
    const kc = new KubeConfig();
    kc.loadFromFile(await server.writeKubeconfig(join(work, 'initial-kubeconfig')));
    const events: string[] = [];
    const controller = await new Watch(kc).watch(`/api/v1/namespaces/${ns}/pods`, {}, (type) => events.push(type), () => undefined);
    await until(() => events.length === 1, 'the initial ADDED');
    controller.abort();
    expect(events).toEqual(['ADDED']);
  });

  it('answers 410 Expired (an ERROR event) for a version older than the kept history', async () => {
    const old = server.store.resourceVersion;
    await core.createNamespacedPod({ namespace: NS, body: pod() });
    server.store.compact();
    const watch = await watchPods(config, { resourceVersion: old });
    await watch.done;
    expect(watch.events).toHaveLength(1);
    expect(watch.events[0]).toMatchObject({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } });
    expect(watch.events[0]!.object.message).toMatch(/^too old resource version: \d+ \(\d+\)$/);
  });

  it('ends a watch after timeoutSeconds, and every open watch when told to drop them', async () => {
    const timed = await watchPods(config, { resourceVersion: server.store.resourceVersion, timeoutSeconds: 1 });
    expect(await timed.done).toBe('closed');
    const first = await watchPods(config, { resourceVersion: server.store.resourceVersion });
    const second = await watchPods(config, { resourceVersion: server.store.resourceVersion });
    await until(() => server.watchCount >= 2, 'two open watches');
    server.dropWatches();
    await Promise.all([first.done, second.done]);
    expect(server.watchCount).toBe(0);
  });
});

describe('leases and events', () => {
  it('creates, reads and compare-and-sets a Lease, and records an Event', async () => {
    const leases = config.makeApiClient(CoordinationV1Api);
    const lease = await leases.createNamespacedLease({ namespace: NS, body: { metadata: { name: 'leader' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } } });
    expect(lease.apiVersion).toBe('coordination.k8s.io/v1');
    const body = { metadata: { resourceVersion: lease.metadata!.resourceVersion }, spec: { holderIdentity: 'b' } };
    expect((await leases.patchNamespacedLease({ name: 'leader', namespace: NS, body }, merge)).spec?.holderIdentity).toBe('b');
    const conflict = await statusOf(leases.patchNamespacedLease({ name: 'leader', namespace: NS, body }, merge));
    expect(conflict).toMatchObject({ code: 409, reason: 'Conflict', details: { group: 'coordination.k8s.io', kind: 'leases' } });
    expect((await leases.readNamespacedLease({ name: 'leader', namespace: NS })).spec?.holderIdentity).toBe('b');
    const event = await core.createNamespacedEvent({ namespace: NS, body: { metadata: { generateName: 'leader.' }, involvedObject: { kind: 'Lease', name: 'leader' }, reason: 'LeaderElection', message: 'b became leader' } });
    expect(event.metadata?.name).toMatch(/^leader\./);
  });
});

describe('access', () => {
  it('answers 401 to an unknown token and 403 naming user, verb, resource, group and namespace', async () => {
    const guarded = await startKubeApiServer({
      users: { 'reader-token': { name: 'system:serviceaccount:kube-test:reader', rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] } },
    });
    try {
      const reader = (await clientFor('reader-token', guarded)).makeApiClient(CoreV1Api);
      expect((await reader.listNamespacedPod({ namespace: NS })).items).toEqual([]);
      const forbidden = await statusOf(reader.patchNamespacedPod({ name: 'x', namespace: NS, body: {} }, merge));
      expect(forbidden).toMatchObject({ code: 403, reason: 'Forbidden', details: { name: 'x', kind: 'pods' } });
      expect(forbidden.message).toBe('pods "x" is forbidden: User "system:serviceaccount:kube-test:reader" cannot patch resource "pods" in API group "" in the namespace "kube-test"');
      const leases = (await clientFor('reader-token', guarded)).makeApiClient(CoordinationV1Api);
      expect((await statusOf(leases.readNamespacedLease({ name: 'l', namespace: NS }))).message).toContain('cannot get resource "leases" in API group "coordination.k8s.io"');
      const stranger = (await clientFor('wrong-token', guarded)).makeApiClient(CoreV1Api);
      await expect(stranger.listNamespacedPod({ namespace: NS })).rejects.toMatchObject({ code: 401 });
      expect(guarded.requests.map((r) => [r.user, r.verb, r.resource, r.status])).toEqual([
        ['system:serviceaccount:kube-test:reader', 'list', 'pods', 200],
        ['system:serviceaccount:kube-test:reader', 'patch', 'pods', 403],
        ['system:serviceaccount:kube-test:reader', 'get', 'leases', 403],
        ['', 'get', '/api/v1/namespaces/kube-test/pods', 401],
      ]);
    } finally {
      await guarded.close();
    }
  });

  it('stops answering when paused and answers again, with its objects, on the same port', async () => {
    const before = (await core.listNamespacedPod({ namespace: NS })).items.length;
    await server.pause();
    await expect(core.listNamespacedPod({ namespace: NS })).rejects.toThrow('fetch failed');
    await server.listen();
    expect((await core.listNamespacedPod({ namespace: NS })).items.length).toBe(before);
  });
});

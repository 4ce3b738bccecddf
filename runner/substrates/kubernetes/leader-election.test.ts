/** Leader election against the test-only API server (real HTTP, @kubernetes/client-node), with client-go's timings (15 s, 10 s, 2 s) scaled down. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startKubeApiServer, type KubeApiServer } from '../../../test/support/kube-api-server.js';
import type { McpWarmError } from '../../errors.js';
import { KubernetesSubstrate } from './index.js';
import { LeaderElector, microTime, type LeaderElectionOptions } from './leader-election.js';

const NS = 'election';
const TIMING = { leaseDurationMs: 2000, renewDeadlineMs: 1200, retryPeriodMs: 200 };
let work: string;
let server: KubeApiServer;
let kubeconfig: string;
const electors: LeaderElector[] = [];

function elector(identity: string, extra: Partial<LeaderElectionOptions> = {}): LeaderElector {
  const made = new LeaderElector({ kubeconfig, leaseName: extra.leaseName ?? 'pool', identity, ...TIMING, ...extra });
  electors.push(made);
  made.start();
  return made;
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Date.now() - started;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mcpwarm-election-'));
  server = await startKubeApiServer();
  kubeconfig = await server.writeKubeconfig(join(work, 'kubeconfig'), { namespace: NS });
});

afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.stop(false)));
});

afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

describe('LeaderElector', () => {
  it('elects exactly one of three candidates, records it on the Lease and in an Event', async () => {
    const candidates = ['a', 'b', 'c'].map((id) => elector(`replica-${id}`, { leaseName: 'three' }));
    await until(() => candidates.some((c) => c.isLeader()), 'a leader');
    for (let i = 0; i < 20; i++) {
      expect(candidates.filter((c) => c.isLeader())).toHaveLength(1);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const leader = candidates.find((c) => c.isLeader())!;
    const lease = server.store.get('leases', NS, 'three');
    expect(lease.spec).toMatchObject({ holderIdentity: leader.identity, leaseDurationSeconds: TIMING.leaseDurationMs / 1000 });
    expect(lease.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    await until(() => server.store.list('events', NS, () => true).items.some((e) => e.message === `${leader.identity} became leader`), 'the event');
  });

  it('renews while leading: the lease stays with its holder', async () => {
    const first = elector('first', { leaseName: 'renew' });
    await until(() => first.isLeader(), 'the first leader');
    const second = elector('second', { leaseName: 'renew' });
    await new Promise((resolve) => setTimeout(resolve, TIMING.leaseDurationMs * 2));
    expect(first.isLeader()).toBe(true);
    expect(second.isLeader()).toBe(false);
    expect(server.store.get('leases', NS, 'renew').spec.leaseTransitions).toBe(0);
  });

  it('hands over at once when the leader stops and releases the lease', async () => {
    const first = elector('first', { leaseName: 'release' });
    await until(() => first.isLeader(), 'the first leader');
    const second = elector('second', { leaseName: 'release' });
    await first.stop();
    const took = await until(() => second.isLeader(), 'the takeover');
    expect(took).toBeLessThan(TIMING.leaseDurationMs);
    expect(server.store.get('leases', NS, 'release').spec.leaseTransitions).toBe(1);
  });

  it('takes over within the lease duration (plus one retry) when the leader dies without releasing', async () => {
    const first = elector('first', { leaseName: 'crash' });
    await until(() => first.isLeader(), 'the first leader');
    const second = elector('second', { leaseName: 'crash' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await first.stop(false);
    const took = await until(() => second.isLeader(), 'the takeover');
    expect(took).toBeGreaterThan(TIMING.leaseDurationMs / 2);
    expect(took).toBeLessThan(TIMING.leaseDurationMs + 3 * TIMING.retryPeriodMs);
  });

  it('steps down within the renew deadline when the API server stops answering, with a coded error', async () => {
    const errors: McpWarmError[] = [];
    const changes: boolean[] = [];
    const leader = elector('lonely', { leaseName: 'outage', onError: (e) => errors.push(e), onChange: (leading) => changes.push(leading) });
    await until(() => leader.isLeader(), 'leadership');
    await server.pause();
    try {
      const lost = await until(() => !leader.isLeader(), 'stepping down');
      expect(lost).toBeLessThan(TIMING.renewDeadlineMs + 2 * TIMING.retryPeriodMs);
      expect(errors[0]?.code).toBe('KUBERNETES_UNREACHABLE');
    } finally {
      await server.listen();
    }
    await until(() => leader.isLeader(), 'leadership again');
    expect(changes).toEqual([true, false, true]);
  });

  it('reports a refusal by RBAC as KUBERNETES_FORBIDDEN naming the verb and resource', async () => {
    const guarded = await startKubeApiServer({ users: { t: { name: 'limited', rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get'] }] } } });
    try {
      const errors: McpWarmError[] = [];
      const limited = elector('limited', { kubeconfig: await guarded.writeKubeconfig(join(work, 'limited'), { token: 't', namespace: NS }), onError: (e) => errors.push(e) });
      await until(() => errors.length > 0, 'a refusal');
      expect(errors[0]).toMatchObject({ code: 'KUBERNETES_FORBIDDEN', details: { verb: 'create', resource: 'leases', group: 'coordination.k8s.io' } });
      expect(limited.isLeader()).toBe(false);
    } finally {
      await guarded.close();
    }
  });

  it('is made by the kubernetes substrate for its own cluster and namespace', async () => {
    const substrate = new KubernetesSubstrate({ kubeconfig, namespace: 'pool-ns' });
    const made = substrate.leaderElection({ leaseName: 'from-substrate', identity: 'replica-1', ...TIMING });
    electors.push(made);
    made.start();
    await until(() => made.isLeader(), 'leadership');
    expect(server.store.get('leases', 'pool-ns', 'from-substrate').spec.holderIdentity).toBe('replica-1');
    await substrate.close();
  });

  it('refuses timings where a leader could outlive its lease', () => {
    expect(() => new LeaderElector({ kubeconfig, leaseName: 'x', identity: 'i', leaseDurationMs: 1000, renewDeadlineMs: 1000, retryPeriodMs: 100 })).toThrow(
      expect.objectContaining({ code: 'USAGE_INVALID' }),
    );
  });
});

describe('microTime', () => {
  it('writes six fractional digits', () => {
    expect(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe('2026-01-02T03:04:05.678000Z');
  });
});

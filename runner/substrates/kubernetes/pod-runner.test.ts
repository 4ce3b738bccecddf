import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { defaultPodTemplate } from './pod-template.js';
import { runnerEndpoint, runnerFromPod, runnerPatchBody, runnerPhase, runnerPod, runnerTemplateFlags, withAgentImage } from './pod-runner.js';

const secret = { name: 'runner-token', key: 'token' };

function running(overrides: Partial<V1Pod['status']> = {}): V1Pod {
  const pod = runnerPod(defaultPodTemplate('reg/runner:1'), { pool: 'p', token: 't' }, secret);
  return {
    ...pod,
    metadata: { ...pod.metadata, name: 'mcp-runner-abcde', resourceVersion: '42', creationTimestamp: '2026-01-01T00:00:00Z' as never, annotations: { 'mcpwarm.dev/activation': 'a-1', other: 'x' } },
    status: { phase: 'Running', podIP: '10.1.2.3', conditions: [{ type: 'Ready', status: 'True' }], ...overrides },
  };
}

describe('runnerPod', () => {
  it('labels the template for its pool, generates its name, appends the template flags and takes the token from the Secret', () => {
    const template = defaultPodTemplate('reg/runner:1');
    template.spec!.containers[0]!.env = [{ name: 'MCPWARM_TOKEN', value: 'leaked' }, { name: 'KEEP', value: '1' }];
    const pod = runnerPod(template, { pool: 'team-a', token: 't', sandbox: 'bwrap', cacheBudget: '2Gi', allow: ['-odd', 'reg/*'], insecureRegistries: ['kind-registry:5000'] }, secret);
    expect(pod.metadata?.generateName).toBe('mcp-runner-');
    expect(pod.metadata?.name).toBeUndefined();
    expect(pod.metadata?.labels).toMatchObject({ 'app.kubernetes.io/component': 'mcp-runner', 'mcpwarm.dev/pool': 'team-a', 'mcpwarm.dev/state': 'warm', 'app.kubernetes.io/name': 'mcpwarm' });
    const agent = pod.spec!.containers[0]!;
    expect(agent.args).toEqual(['--host=0.0.0.0', '--port=8080', '--cache=/var/cache/mcpwarm', '--sandbox=bwrap', '--cache-size=2Gi', '--allow=-odd', '--allow=reg/*', '--insecure-registry=kind-registry:5000']);
    expect(agent.env).toEqual([{ name: 'KEEP', value: '1' }, { name: 'MCPWARM_TOKEN', valueFrom: { secretKeyRef: secret } }]);
    expect(JSON.stringify(pod)).not.toContain('"t"');
    expect(template.spec!.containers[0]!.args).toHaveLength(3);
  });

  it('refuses a pool that is not a label value, and a template without the agent container or port', () => {
    expect(() => runnerPod(defaultPodTemplate(), { pool: 'has space', token: 't' }, secret)).toThrow(expect.objectContaining({ code: 'USAGE_INVALID' }));
    const noPort = defaultPodTemplate();
    noPort.spec!.containers[0]!.ports = [];
    expect(() => runnerPod(noPort, { pool: 'p', token: 't' }, secret)).toThrow(/port named "agent"/);
    const renamed = defaultPodTemplate();
    renamed.spec!.containers[0]!.name = 'main';
    expect(() => runnerPod(renamed, { pool: 'p', token: 't' }, secret)).toThrow(/container named "agent"/);
  });

  it('puts another image in the agent container, leaving the template as it was', () => {
    const template = defaultPodTemplate('reg/runner:1');
    expect(withAgentImage(template, 'localhost:5001/mcpwarm/runner:dev').spec!.containers[0]!.image).toBe('localhost:5001/mcpwarm/runner:dev');
    expect(template.spec!.containers[0]!.image).toBe('reg/runner:1');
  });

  it('leaves out the flags a template does not set', () => {
    expect(runnerTemplateFlags({ pool: 'p', token: 't' })).toEqual([]);
  });
});

describe('runnerPhase', () => {
  it('maps pod status to the runner phase', () => {
    expect(runnerPhase(running())).toBe('running');
    expect(runnerPhase(running({ conditions: [{ type: 'Ready', status: 'False' }] }))).toBe('pending');
    expect(runnerPhase(running({ podIP: undefined }))).toBe('pending');
    expect(runnerPhase(running({ phase: 'Pending', conditions: [] }))).toBe('pending');
    expect(runnerPhase(running({ phase: 'Pending', containerStatuses: [{ name: 'agent', image: 'i', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff' } } }] }))).toBe('failed');
    expect(runnerPhase(running({ phase: 'Failed', reason: 'Evicted' }))).toBe('failed');
    expect(runnerPhase(running({ phase: 'Unknown' }))).toBe('failed');
    expect(runnerPhase(running({ phase: 'Succeeded' }))).toBe('gone');
    const terminating = running();
    terminating.metadata!.deletionTimestamp = '2026-01-01T00:01:00Z' as never;
    expect(runnerPhase(terminating)).toBe('gone');
  });
});

describe('runnerFromPod', () => {
  it('reads id, pool, state, version, the mcpwarm annotations and the endpoint of a ready pod', () => {
    expect(runnerFromPod(running())).toEqual({
      id: 'mcp-runner-abcde',
      pool: 'p',
      state: 'warm',
      phase: 'running',
      endpoint: 'http://10.1.2.3:8080',
      annotations: { 'mcpwarm.dev/activation': 'a-1' },
      createdAt: '2026-01-01T00:00:00.000Z',
      version: '42',
    });
  });

  it('gives no endpoint before the pod is ready, brackets an IPv6 address, and skips pods without runner labels', () => {
    expect(runnerFromPod(running({ conditions: [] }))?.endpoint).toBeUndefined();
    expect(runnerEndpoint(running({ podIP: 'fd00::5' }))).toBe('http://[fd00::5]:8080');
    const unlabelled = running();
    unlabelled.metadata!.labels = { 'app.kubernetes.io/component': 'mcp-runner' };
    expect(runnerFromPod(unlabelled)).toBeUndefined();
    const badState = running();
    badState.metadata!.labels!['mcpwarm.dev/state'] = 'borrowed';
    expect(runnerFromPod(badState)).toBeUndefined();
    expect(runnerFromPod(running(), 'gone')?.phase).toBe('gone');
  });
});

describe('runnerPatchBody', () => {
  it('names the version read, sets the state label and the annotations (null removes)', () => {
    expect(runnerPatchBody('42', { state: 'claimed', annotations: { 'mcpwarm.dev/activation': 'a-2', 'mcpwarm.dev/image': null } })).toEqual({
      metadata: { resourceVersion: '42', labels: { 'mcpwarm.dev/state': 'claimed' }, annotations: { 'mcpwarm.dev/activation': 'a-2', 'mcpwarm.dev/image': null } },
    });
    expect(runnerPatchBody('7', { state: 'draining' })).toEqual({ metadata: { resourceVersion: '7', labels: { 'mcpwarm.dev/state': 'draining' } } });
  });

  it('refuses an unknown state and annotations outside mcpwarm.dev/', () => {
    expect(() => runnerPatchBody('1', { state: 'lost' as never })).toThrow(expect.objectContaining({ code: 'USAGE_INVALID' }));
    expect(() => runnerPatchBody('1', { annotations: { owner: 'me' } })).toThrow(/owner/);
  });
});

import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { McpWarmError } from '../../errors.js';
import { API_CALLS, describeCall } from './api-calls.js';
import { apiStatus, isUnreachable, kubeError } from './kube-errors.js';

const where = { server: 'https://10.0.0.1:6443', namespace: 'mcpwarm' };
const status = (code: number, reason: string, message: string) =>
  new ApiException(code, 'Unknown API Status Code!', JSON.stringify({ kind: 'Status', code, reason, message }), {});

describe('kubeError', () => {
  it('makes no answer at all KUBERNETES_UNREACHABLE, naming the server and the call', () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    expect(isUnreachable(refused)).toBe(true);
    const error = kubeError(API_CALLS.listPods, where, refused);
    expect(error.code).toBe('KUBERNETES_UNREACHABLE');
    expect(error.message).toContain('https://10.0.0.1:6443');
    expect(error.message).toContain('list pods in namespace mcpwarm');
    expect(error.message).toContain('ECONNREFUSED');
    expect(kubeError(API_CALLS.watchPods, where, new DOMException('timed out', 'TimeoutError')).code).toBe('KUBERNETES_UNREACHABLE');
  });

  it('makes a refusal KUBERNETES_FORBIDDEN naming verb and resource', () => {
    const error = kubeError(API_CALLS.patchLease, where, status(403, 'Forbidden', 'leases.coordination.k8s.io "x" is forbidden: User "u" cannot patch resource "leases"'));
    expect(error.code).toBe('KUBERNETES_FORBIDDEN');
    expect(error.message).toContain('patch leases.coordination.k8s.io in namespace mcpwarm');
    expect(error.details).toMatchObject({ verb: 'patch', resource: 'leases', group: 'coordination.k8s.io', status: 403 });
    expect(kubeError(API_CALLS.listPods, where, new ApiException(401, 'Unauthorized', undefined, {})).code).toBe('KUBERNETES_FORBIDDEN');
  });

  it('makes anything else SUBSTRATE_FAILED with the server message, and passes coded errors through', () => {
    const error = kubeError(API_CALLS.createPod, where, status(422, 'Invalid', 'Pod "x" is invalid: spec.containers: Required value'));
    expect(error.code).toBe('SUBSTRATE_FAILED');
    expect(error.message).toContain('spec.containers: Required value');
    expect(isUnreachable(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe(false);
    const coded = new McpWarmError('USAGE_INVALID', 'x');
    expect(kubeError(API_CALLS.createPod, where, coded)).toBe(coded);
  });

  it('reads the status of API answers and refused watches', () => {
    expect(apiStatus(status(409, 'Conflict', 'c'))).toBe(409);
    expect(apiStatus(Object.assign(new Error('Gone'), { statusCode: 410 }))).toBe(410);
    expect(apiStatus(new Error('x'))).toBeUndefined();
  });
});

describe('describeCall', () => {
  it('spells calls as RBAC does', () => {
    expect(describeCall(API_CALLS.deletePod)).toBe('delete pods');
    expect(describeCall(API_CALLS.getLease)).toBe('get leases.coordination.k8s.io');
  });
});

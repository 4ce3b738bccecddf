/**
 * Every Kubernetes API call the substrate and its leader elector make, as (API group, resource,
 * verb). The Role in deploy/base/rbac.yaml grants exactly these (a test compares them), and error
 * messages name the call that failed, so a refusal says which grant is missing.
 */
export interface ApiCall {
  /** The API group: '' for the core group. */
  readonly group: '' | 'coordination.k8s.io';
  readonly resource: 'pods' | 'leases' | 'events';
  readonly verb: 'get' | 'list' | 'watch' | 'create' | 'patch' | 'delete';
}

export const API_CALLS = {
  listPods: { group: '', resource: 'pods', verb: 'list' },
  watchPods: { group: '', resource: 'pods', verb: 'watch' },
  createPod: { group: '', resource: 'pods', verb: 'create' },
  patchPod: { group: '', resource: 'pods', verb: 'patch' },
  deletePod: { group: '', resource: 'pods', verb: 'delete' },
  getLease: { group: 'coordination.k8s.io', resource: 'leases', verb: 'get' },
  createLease: { group: 'coordination.k8s.io', resource: 'leases', verb: 'create' },
  patchLease: { group: 'coordination.k8s.io', resource: 'leases', verb: 'patch' },
  createEvent: { group: '', resource: 'events', verb: 'create' },
} as const satisfies Record<string, ApiCall>;

/** `verb resource.group` as RBAC and kubectl spell it: `patch pods`, `get leases.coordination.k8s.io`. */
export function describeCall(call: ApiCall): string {
  return `${call.verb} ${call.resource}${call.group === '' ? '' : `.${call.group}`}`;
}

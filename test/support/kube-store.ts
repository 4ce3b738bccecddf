/**
 * The storage of the test-only Kubernetes API server: pods, leases and events in any namespace,
 * with one global resourceVersion that grows with every write (as etcd's revision does), a bounded
 * history of changes for watches to resume from, and the API server's rules for what a write may
 * do: generated names, merge patches (RFC 7386) guarded by resourceVersion, pod status only
 * through the status subresource, graceful pod deletion, and Status errors shaped like the real
 * ones. It is a test double, not a product.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { labelProblems } from './kube-label-selector.js';

export interface ResourceType {
  resource: string;
  group: string;
  version: string;
  kind: string;
}

export const RESOURCE_TYPES: readonly ResourceType[] = [
  { resource: 'pods', group: '', version: 'v1', kind: 'Pod' },
  { resource: 'events', group: '', version: 'v1', kind: 'Event' },
  { resource: 'leases', group: 'coordination.k8s.io', version: 'v1', kind: 'Lease' },
];

// Stored objects are free-form JSON, as the API server keeps them.
export type KubeObject = Record<string, any> & { metadata: Record<string, any> };

export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: Record<string, unknown>;
  code: number;
}

export class KubeStatusError extends Error {
  readonly status: KubeStatus;

  constructor(code: number, reason: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
  }
}

export interface StoreEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  resource: string;
  namespace: string;
  object: KubeObject;
  /** The object before a modification (selector-filtered watches need it). */
  previous?: KubeObject;
  resourceVersion: number;
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/** Seconds precision, as metav1.Time serialises. */
function timestamp(ms = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function resourceType(resource: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((type) => type.resource === resource);
}

export class KubeStore {
  private revision = 100;
  /** Watches may resume from any version at or after this one. */
  private oldestResumable = 100;
  private readonly objects = new Map<string, KubeObject>();
  private readonly history: StoreEvent[] = [];
  private readonly subscribers = new Set<(event: StoreEvent) => void>();

  constructor(private readonly historyLimit = 10_000) {}

  get resourceVersion(): string {
    return String(this.revision);
  }

  private key(resource: string, namespace: string, name: string): string {
    return `${resource}/${namespace}/${name}`;
  }

  private typeOf(resource: string): ResourceType {
    const type = resourceType(resource);
    if (!type) throw new KubeStatusError(404, 'NotFound', `the server could not find the requested resource (${resource})`);
    return type;
  }

  private notFound(resource: string, name: string): KubeStatusError {
    return new KubeStatusError(404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource });
  }

  private record(event: Omit<StoreEvent, 'resourceVersion'>): void {
    const stored: StoreEvent = { ...event, resourceVersion: this.revision };
    this.history.push(stored);
    while (this.history.length > this.historyLimit) this.oldestResumable = this.history.shift()!.resourceVersion;
    for (const subscriber of this.subscribers) subscriber(structuredClone(stored));
  }

  subscribe(subscriber: (event: StoreEvent) => void): () => void {
    this.subscribers.add(subscriber);
    return () => {
      this.subscribers.delete(subscriber);
    };
  }

  /** Forgets the history: a watch from any version before now gets 410 Gone. */
  compact(): void {
    this.history.length = 0;
    this.oldestResumable = this.revision;
  }

  /** Changes after `resourceVersion`; 410 Expired when they are no longer all kept. */
  eventsSince(resourceVersion: string): StoreEvent[] {
    const from = Number(resourceVersion);
    if (!Number.isInteger(from)) throw new KubeStatusError(400, 'BadRequest', `invalid resourceVersion "${resourceVersion}"`);
    if (from < this.oldestResumable) {
      throw new KubeStatusError(410, 'Expired', `too old resource version: ${from} (${this.oldestResumable})`);
    }
    return this.history.filter((event) => event.resourceVersion > from).map((event) => structuredClone(event));
  }

  list(resource: string, namespace: string | undefined, matches: (object: KubeObject) => boolean): { items: KubeObject[]; resourceVersion: string } {
    this.typeOf(resource);
    const items = [...this.objects.entries()]
      .filter(([key]) => key.startsWith(`${resource}/${namespace === undefined ? '' : `${namespace}/`}`))
      .map(([, object]) => object)
      .filter(matches)
      .map((object) => structuredClone(object));
    return { items, resourceVersion: this.resourceVersion };
  }

  get(resource: string, namespace: string, name: string): KubeObject {
    this.typeOf(resource);
    const object = this.objects.get(this.key(resource, namespace, name));
    if (!object) throw this.notFound(resource, name);
    return structuredClone(object);
  }

  create(resource: string, namespace: string, body: KubeObject): KubeObject {
    const type = this.typeOf(resource);
    const metadata = { ...(body.metadata ?? {}) };
    if (metadata.namespace !== undefined && metadata.namespace !== namespace) {
      throw new KubeStatusError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    }
    if (metadata.name === undefined && metadata.generateName !== undefined) {
      do metadata.name = `${metadata.generateName}${Array.from({ length: 5 }, () => NAME_CHARS[Math.floor(Math.random() * NAME_CHARS.length)]).join('')}`;
      while (this.objects.has(this.key(resource, namespace, metadata.name)));
    }
    const name = String(metadata.name ?? '');
    const problems = [
      ...(name === '' ? ['metadata.name: Required value: name or generateName is required'] : []),
      ...(name !== '' && (!NAME.test(name) || name.length > 253) ? [`metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`] : []),
      ...labelProblems(metadata.labels),
      ...(resource === 'pods' && !(body.spec?.containers?.length > 0) ? ['spec.containers: Required value'] : []),
    ];
    if (problems.length > 0) {
      throw new KubeStatusError(422, 'Invalid', `${type.kind} "${name}" is invalid: ${problems.join(', ')}`, {
        name,
        kind: type.kind,
        causes: problems.map((problem) => ({ reason: 'FieldValueInvalid', message: problem, field: problem.split(':')[0] })),
      });
    }
    const key = this.key(resource, namespace, name);
    if (this.objects.has(key)) throw new KubeStatusError(409, 'AlreadyExists', `${resource} "${name}" already exists`, { name, kind: resource });
    this.revision += 1;
    const object: KubeObject = {
      ...body,
      apiVersion: type.group === '' ? type.version : `${type.group}/${type.version}`,
      kind: type.kind,
      metadata: { ...metadata, name, namespace, uid: randomUUID(), resourceVersion: this.resourceVersion, creationTimestamp: timestamp() },
    };
    if (resource === 'pods') {
      object.spec = { restartPolicy: 'Always', terminationGracePeriodSeconds: 30, dnsPolicy: 'ClusterFirst', schedulerName: 'default-scheduler', ...object.spec };
      object.status = { phase: 'Pending', qosClass: 'BestEffort' };
    }
    this.objects.set(key, object);
    this.record({ type: 'ADDED', resource, namespace, object: structuredClone(object) });
    return structuredClone(object);
  }

  /**
   * A merge patch. With `metadata.resourceVersion` in the patch it applies only at that version
   * (409 Conflict otherwise). On pods, the main resource cannot change the status (and the spec
   * only where Kubernetes allows), and the status subresource changes nothing but the status.
   */
  patch(resource: string, namespace: string, name: string, patch: unknown, subresource?: 'status'): KubeObject {
    const type = this.typeOf(resource);
    const key = this.key(resource, namespace, name);
    const current = this.objects.get(key);
    if (!current) throw this.notFound(resource, name);
    if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
      throw new KubeStatusError(400, 'BadRequest', 'the body of the request was in an unknown format - accepted media types include: application/merge-patch+json');
    }
    const wanted = (patch as KubeObject).metadata?.resourceVersion;
    if (wanted !== undefined && String(wanted) !== current.metadata.resourceVersion) {
      throw new KubeStatusError(409, 'Conflict', `Operation cannot be fulfilled on ${resource}${type.group ? `.${type.group}` : ''} "${name}": the object has been modified; please apply your changes to the latest version and try again`, {
        name,
        kind: resource,
        ...(type.group ? { group: type.group } : {}),
      });
    }
    const merged = mergePatch(current, patch) as KubeObject;
    let next: KubeObject;
    if (subresource === 'status') {
      next = { ...current, status: merged.status };
    } else {
      const fixed = ['name', 'namespace', 'uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'resourceVersion', 'generateName'];
      next = { ...merged, apiVersion: current.apiVersion, kind: current.kind, metadata: { ...merged.metadata } };
      for (const field of fixed) {
        if (current.metadata[field] === undefined) delete next.metadata[field];
        else next.metadata[field] = current.metadata[field];
      }
      if (resource === 'pods') {
        next.status = current.status;
        if (!isDeepStrictEqual(next.spec, current.spec)) {
          throw new KubeStatusError(422, 'Invalid', `Pod "${name}" is invalid: spec: Forbidden: pod updates may not change fields other than \`spec.containers[*].image\`, \`spec.activeDeadlineSeconds\`, \`spec.tolerations\``, {
            name,
            kind: 'Pod',
            causes: [{ reason: 'FieldValueForbidden', message: 'Forbidden: pod updates may not change fields', field: 'spec' }],
          });
        }
      }
      const problems = labelProblems(next.metadata.labels);
      if (problems.length > 0) throw new KubeStatusError(422, 'Invalid', `${type.kind} "${name}" is invalid: ${problems.join(', ')}`, { name, kind: type.kind });
    }
    // A patch that changes nothing writes nothing: same version, no watch event.
    if (isDeepStrictEqual(next, current)) return structuredClone(current);
    return this.replace(resource, namespace, current, next);
  }

  private replace(resource: string, namespace: string, current: KubeObject, next: KubeObject): KubeObject {
    this.revision += 1;
    next.metadata = { ...next.metadata, resourceVersion: this.resourceVersion };
    this.objects.set(this.key(resource, namespace, current.metadata.name), next);
    this.record({ type: 'MODIFIED', resource, namespace, object: structuredClone(next), previous: structuredClone(current) });
    return structuredClone(next);
  }

  /** What the scheduler does: binds a pending pod to a node. */
  bind(namespace: string, name: string, nodeName: string): KubeObject {
    const current = this.objects.get(this.key('pods', namespace, name));
    if (!current) throw this.notFound('pods', name);
    if (current.spec.nodeName) throw new KubeStatusError(409, 'Conflict', `Operation cannot be fulfilled on pods/binding "${name}": pod ${name} is already assigned to node "${current.spec.nodeName}"`, { name, kind: 'pods/binding' });
    return this.replace('pods', namespace, current, { ...current, spec: { ...current.spec, nodeName } });
  }

  /**
   * Deletes an object. A pod bound to a node and not finished is deleted gracefully: it gets a
   * deletionTimestamp and stays until its kubelet, having stopped it, deletes it with grace 0.
   */
  delete(resource: string, namespace: string, name: string, options: { gracePeriodSeconds?: number; preconditions?: { uid?: string; resourceVersion?: string } } = {}): KubeObject {
    this.typeOf(resource);
    const key = this.key(resource, namespace, name);
    const current = this.objects.get(key);
    if (!current) throw this.notFound(resource, name);
    for (const field of ['uid', 'resourceVersion'] as const) {
      const wanted = options.preconditions?.[field];
      if (wanted !== undefined && wanted !== current.metadata[field]) {
        const label = field === 'uid' ? 'UID' : 'ResourceVersion';
        throw new KubeStatusError(409, 'Conflict', `Operation cannot be fulfilled on ${resource} "${name}": Precondition failed: ${label} in precondition: ${wanted}, ${label} in object meta: ${current.metadata[field]}`, { name, kind: resource });
      }
    }
    if (resource === 'pods') {
      const finished = current.status?.phase === 'Succeeded' || current.status?.phase === 'Failed';
      const grace = !current.spec.nodeName || finished ? 0 : (options.gracePeriodSeconds ?? current.spec.terminationGracePeriodSeconds ?? 30);
      if (grace > 0) {
        const already = current.metadata.deletionGracePeriodSeconds;
        if (already !== undefined && already <= grace) return structuredClone(current);
        return this.replace(resource, namespace, current, {
          ...current,
          metadata: { ...current.metadata, deletionTimestamp: timestamp(Date.now() + grace * 1000), deletionGracePeriodSeconds: grace },
        });
      }
    }
    this.objects.delete(key);
    this.revision += 1;
    const gone = { ...current, metadata: { ...current.metadata, resourceVersion: this.resourceVersion } };
    this.record({ type: 'DELETED', resource, namespace, object: structuredClone(gone) });
    return structuredClone(gone);
  }
}

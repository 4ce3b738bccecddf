/**
 * The pure half of the informer: the cache of objects a list and a watch keep, the changes each
 * step makes to it, and the reconnect backoff. No I/O, so every rule is unit-tested.
 *
 * resourceVersions are opaque to Kubernetes clients in general; they are compared only as numbers
 * when both are numbers (what every etcd-backed API server sends): by `isNewer`, so that an object
 * this controller wrote is not replaced by an older copy a lagging watch delivers afterwards, and
 * by `isLaterVersion`, so that a compare-and-set the cache already knows is stale is not sent.
 */

export interface KubeObject {
  metadata?: { name?: string; resourceVersion?: string };
}

export type ChangeType = 'added' | 'modified' | 'deleted';

export interface CacheChange<T> {
  type: ChangeType;
  object: T;
}

/** `a` is a later version than `b` (or their order cannot be told, so the newcomer wins). */
export function isNewer(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return true;
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return BigInt(a) > BigInt(b);
  return a !== b;
}

/**
 * `a` is certainly a later version than `b`: both are numbers and `a` is greater. Unlike isNewer,
 * versions that cannot be ordered count as not later, so a caller acting on the answer (refusing a
 * write without sending it) never acts on a guess.
 */
export function isLaterVersion(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && /^\d+$/.test(a) && /^\d+$/.test(b) && BigInt(a) > BigInt(b);
}

export class WatchCache<T extends KubeObject> {
  private readonly objects = new Map<string, T>();

  get size(): number {
    return this.objects.size;
  }

  items(): T[] {
    return [...this.objects.values()];
  }

  get(name: string): T | undefined {
    return this.objects.get(name);
  }

  /** A fresh list replaces the cache; the changes are what a watcher missed meanwhile. */
  replace(items: readonly T[]): Array<CacheChange<T>> {
    const changes: Array<CacheChange<T>> = [];
    const listed = new Set<string>();
    for (const item of items) {
      const name = item.metadata?.name;
      if (name === undefined) continue;
      listed.add(name);
      const before = this.objects.get(name);
      this.objects.set(name, item);
      if (before === undefined) changes.push({ type: 'added', object: item });
      else if (before.metadata?.resourceVersion !== item.metadata?.resourceVersion) changes.push({ type: 'modified', object: item });
    }
    for (const [name, object] of this.objects) {
      if (listed.has(name)) continue;
      this.objects.delete(name);
      changes.push({ type: 'deleted', object });
    }
    return changes;
  }

  /**
   * Applies one watch event (or the answer to a write). Replays of a version the cache already has,
   * and versions older than it, change nothing; a deletion of an object the cache never had neither.
   */
  apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: T): CacheChange<T> | undefined {
    const name = object.metadata?.name;
    if (name === undefined) return undefined;
    const before = this.objects.get(name);
    if (type === 'DELETED') {
      if (before === undefined) return undefined;
      this.objects.delete(name);
      return { type: 'deleted', object };
    }
    if (before !== undefined && !isNewer(object.metadata?.resourceVersion, before.metadata?.resourceVersion)) return undefined;
    this.objects.set(name, object);
    return { type: before === undefined ? 'added' : 'modified', object };
  }
}

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** Exponential backoff with jitter: attempt 0 waits about `baseMs`, doubling up to `maxMs`, each in [50%, 100%]. */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/** An ERROR watch event (or a refused watch) that says the resourceVersion is too old: relist. */
export function isExpired(status: { code?: number; reason?: string } | undefined): boolean {
  return status?.code === 410 || status?.reason === 'Expired' || status?.reason === 'Gone';
}

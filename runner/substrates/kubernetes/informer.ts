/**
 * An informer: a cache of the objects a label selector matches, kept current by a list and then a
 * watch from the listed resourceVersion (with bookmarks, so a reconnect resumes from a recent
 * version). A watch that ends is resumed from the last version seen; one refused with 410 Gone
 * (the version left the server's history) is replaced by a fresh list, whose differences with the
 * cache are told to the listeners as changes; a failed list or watch is retried with backoff.
 * Listeners hear every change once, in order.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { apiStatus } from './kube-errors.js';
import { backoffDelayMs, isExpired, WatchCache, type BackoffPolicy, type CacheChange, type KubeObject } from './watch-cache.js';

export interface ListWatchSource<T> {
  list(): Promise<{ items: T[]; resourceVersion: string }>;
  /**
   * Starts a watch from `resourceVersion`; `onEvent` gets each event (type and object as sent),
   * `onDone` is called once when it ends: with null for a clean end, else the error. Resolves with
   * a function that stops the watch.
   */
  watch(resourceVersion: string, onEvent: (type: string, object: unknown) => void, onDone: (error: unknown) => void): Promise<() => void>;
}

export interface InformerOptions {
  backoff: BackoffPolicy;
  /** A watch that ends sooner than this having delivered nothing counts as a failure (no busy loop). */
  minWatchMs?: number;
}

/** The step that failed last, and how; cleared by the next success. */
export interface InformerFailure {
  step: 'list' | 'watch';
  error: unknown;
}

interface WatchOutcome {
  /** Where to resume; undefined when the watch said the version expired (relist). */
  resourceVersion: string | undefined;
  error?: unknown;
  delivered: boolean;
  lastedMs: number;
}

type Waiter = { resolve: () => void; reject: (failure: InformerFailure) => void };

export class Informer<T extends KubeObject> {
  private readonly cache = new WatchCache<T>();
  private readonly listeners = new Set<(change: CacheChange<T>) => void>();
  private readonly stopping = new AbortController();
  private waiters: Waiter[] = [];
  private running: Promise<void> | undefined;
  private synced = false;
  private failure: InformerFailure | undefined;
  /** When the current run of failed attempts began (ms since the epoch). */
  private failingSinceMs: number | undefined;

  constructor(
    private readonly source: ListWatchSource<T>,
    private readonly options: InformerOptions,
  ) {}

  /** Starts listing and watching (once; later calls do nothing). */
  start(): void {
    this.running ??= this.run();
  }

  /**
   * Resolves once the cache holds a complete list. Rejects with the failure when the informer has
   * never listed and its last attempt failed (it keeps retrying in the background).
   */
  ready(): Promise<void> {
    this.start();
    if (this.synced) return Promise.resolve();
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** False while the last list or watch attempt failed (the cache may be stale). */
  get connected(): boolean {
    return this.synced && this.failure === undefined;
  }

  get lastFailure(): InformerFailure | undefined {
    return this.failure;
  }

  /** When the attempts began failing, while they do (ms since the epoch); else undefined. */
  get failingSince(): number | undefined {
    return this.failingSinceMs;
  }

  items(): T[] {
    return this.cache.items();
  }

  get(name: string): T | undefined {
    return this.cache.get(name);
  }

  subscribe(listener: (change: CacheChange<T>) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Records what a write of ours answered, so readers see it before the watch brings it. */
  record(type: 'ADDED' | 'MODIFIED', object: T): void {
    const change = this.cache.apply(type, object);
    if (change) this.publish([change]);
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.listeners.clear();
    for (const waiter of this.waiters.splice(0)) waiter.reject({ step: 'list', error: new Error('the informer was stopped') });
    await this.running;
  }

  private publish(changes: ReadonlyArray<CacheChange<T>>): void {
    for (const change of changes) {
      for (const listener of this.listeners) {
        try {
          listener(change);
        } catch {
          // One listener's failure must not keep the others from hearing about the change.
        }
      }
    }
  }

  private succeeded(): void {
    this.failure = undefined;
    this.failingSinceMs = undefined;
    if (this.synced) return;
    this.synced = true;
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
  }

  private failed(failure: InformerFailure): void {
    this.failure = failure;
    this.failingSinceMs ??= Date.now();
    if (!this.synced) for (const waiter of this.waiters.splice(0)) waiter.reject(failure);
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    let resourceVersion: string | undefined;
    let attempt = 0;
    while (!signal.aborted) {
      let step: InformerFailure['step'] = 'list';
      try {
        if (resourceVersion === undefined) {
          const listed = await this.source.list();
          if (signal.aborted) return;
          this.publish(this.cache.replace(listed.items));
          resourceVersion = listed.resourceVersion;
          this.succeeded();
          attempt = 0;
        }
        step = 'watch';
        const outcome = await this.watchFrom(resourceVersion);
        resourceVersion = outcome.resourceVersion;
        if (outcome.error !== undefined) throw outcome.error;
        if (resourceVersion === undefined || outcome.delivered || outcome.lastedMs >= (this.options.minWatchMs ?? 1000)) {
          attempt = 0;
          continue;
        }
      } catch (error) {
        if (signal.aborted) return;
        if (step === 'watch' && apiStatus(error) === 410) {
          resourceVersion = undefined;
          continue;
        }
        this.failed({ step, error });
      }
      // Unreferenced: retrying in the background must not keep a process alive on its own.
      await sleep(backoffDelayMs(attempt, this.options.backoff), undefined, { signal, ref: false }).catch(() => undefined);
      attempt += 1;
    }
  }

  private watchFrom(from: string): Promise<WatchOutcome> {
    return new Promise((resolve) => {
      const started = Date.now();
      let resourceVersion = from;
      let delivered = false;
      let finished = false;
      let stop: (() => void) | undefined;
      const signal = this.stopping.signal;
      const finish = (outcome: Omit<WatchOutcome, 'delivered' | 'lastedMs'>): void => {
        if (finished) return;
        finished = true;
        signal.removeEventListener('abort', onAbort);
        stop?.();
        resolve({ ...outcome, delivered, lastedMs: Date.now() - started });
      };
      const onAbort = (): void => finish({ resourceVersion });
      signal.addEventListener('abort', onAbort, { once: true });
      const onEvent = (type: string, object: unknown): void => {
        if (finished) return;
        const version = (object as KubeObject | undefined)?.metadata?.resourceVersion;
        if (type === 'ERROR') {
          const status = object as { code?: number; reason?: string; message?: string };
          if (isExpired(status)) finish({ resourceVersion: undefined });
          else finish({ resourceVersion, error: Object.assign(new Error(status.message ?? 'watch error'), { statusCode: status.code }) });
          return;
        }
        if (version !== undefined) resourceVersion = version;
        delivered = true;
        this.succeeded();
        if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
          const change = this.cache.apply(type, object as T);
          if (change) this.publish([change]);
        }
      };
      this.source
        .watch(from, onEvent, (error) => finish(error ? { resourceVersion, error } : { resourceVersion }))
        .then(
          (stopper) => {
            stop = stopper;
            // Resolved after the server accepted the watch (a refused one has finished already).
            if (finished) stopper();
            else this.succeeded();
          },
          (error: unknown) => finish({ resourceVersion, error }),
        );
    });
  }
}

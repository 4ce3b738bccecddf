/**
 * Which waiting request goes to which backend, as a pure function of the queue and the
 * backends' loads. Requests are considered oldest first. A request pinned to a backend (its
 * session's affinity, or a backend of its own) waits for that one; any other goes to the ready
 * backend with room that has the fewest requests at it now. Ties go to the first in the pool's
 * order, so light traffic keeps to the same processes, whose code stays compiled and cached
 * (a backend that serves every other call answers slower than one kept busy); a request that
 * pins its session breaks ties by the fewest served so far instead, so that pinned sessions
 * spread over the pool. A request that must wait never holds up later ones that can go elsewhere.
 */

export interface BackendLoad {
  readonly ready: boolean;
  /** Requests at it now. */
  readonly load: number;
  /** Requests it takes at once (1: attach one at a time). */
  readonly capacity: number;
  /** Requests it has taken so far. */
  readonly served: number;
}

export interface WaitingRequest {
  /** The backend it must go to, if any. */
  readonly pin: number | undefined;
  /** Requests of one group (a session) share the pin a request of the group takes. */
  readonly group: unknown;
  /** Whether going to a backend pins its group there (a request that leaves session state behind). */
  readonly pinsGroup: boolean;
}

export interface Assignment {
  /** Index into the waiting list. */
  readonly waiting: number;
  readonly backend: number;
}

function hasRoom(backend: BackendLoad, load: number): boolean {
  return backend.ready && load < backend.capacity;
}

/**
 * The least-loaded backend with room for something that holds state there (a listen stream's
 * subscriptions), ties broken by the fewest served; undefined when none has room.
 */
export function leastLoaded(backends: readonly BackendLoad[]): number | undefined {
  return pick(
    backends,
    backends.map((backend) => backend.load),
    backends.map((backend) => backend.served),
    true,
  );
}

/** `spread`: ties go to the fewest served, else to the first. */
function pick(backends: readonly BackendLoad[], loads: readonly number[], served: readonly number[], spread: boolean): number | undefined {
  let best: number | undefined;
  for (let index = 0; index < backends.length; index += 1) {
    if (!hasRoom(backends[index]!, loads[index]!)) continue;
    if (best === undefined || loads[index]! < loads[best]! || (spread && loads[index] === loads[best] && served[index]! < served[best]!)) best = index;
  }
  return best;
}

export function planDispatch(waiting: readonly WaitingRequest[], backends: readonly BackendLoad[]): Assignment[] {
  const loads = backends.map((backend) => backend.load);
  const served = backends.map((backend) => backend.served);
  const groupPins = new Map<unknown, number>();
  const assignments: Assignment[] = [];
  let room = backends.some((backend, index) => hasRoom(backend, loads[index]!));
  for (let index = 0; index < waiting.length && room; index += 1) {
    const request = waiting[index]!;
    const pin = request.pin ?? groupPins.get(request.group);
    const backend = pin === undefined ? pick(backends, loads, served, request.pinsGroup) : hasRoom(backends[pin]!, loads[pin]!) ? pin : undefined;
    if (backend === undefined) continue;
    assignments.push({ waiting: index, backend });
    loads[backend] += 1;
    served[backend] += 1;
    if (request.pinsGroup && pin === undefined) groupPins.set(request.group, backend);
    if (loads[backend]! >= backends[backend]!.capacity) room = backends.some((candidate, at) => hasRoom(candidate, loads[at]!));
  }
  return assignments;
}

/**
 * The Retry-After (seconds) for a request refused because the queue is full: about how long the
 * backends take to work through the queue at the mean service time, between 1 and 60 seconds.
 */
export function retryAfterSeconds(queueDepth: number, backends: number, meanServiceMs: number): number {
  const seconds = Math.ceil(((queueDepth + 1) * Math.max(meanServiceMs, 1)) / Math.max(backends, 1) / 1000);
  return Math.min(60, Math.max(1, seconds));
}

/**
 * The hot tier: for popular images, instances activated and initialized ahead of demand, so an
 * activation is answered at once. Each image keeps at least `min` ready (at most `max` ready or
 * in the making); a served instance is replaced in the background. Stopping cancels the instances
 * still being made (through the signal `make` is given), so none lingers after its controller.
 */
import { setMaxListeners } from 'node:events';
import { McpWarmError } from '../errors.js';

export interface HotImageConfig {
  image: string;
  min: number;
  max: number;
}

/** Parses `IMAGE=MIN[:MAX]` (the image itself may contain ':' and '@'). */
export function parseHotSpec(spec: string): HotImageConfig {
  const match = /^(.+)=(\d+)(?::(\d+))?$/.exec(spec);
  const min = Number(match?.[2]);
  const max = match?.[3] === undefined ? min : Number(match[3]);
  if (!match || min < 1 || max < min) {
    throw new McpWarmError('USAGE_INVALID', `--hot ${spec}: expected IMAGE=MIN[:MAX] with 1 <= MIN <= MAX`);
  }
  return { image: match[1]!, min, max };
}

interface Shelf<T> {
  config: HotImageConfig;
  ready: T[];
  making: number;
}

export class HotTier<T> {
  private readonly shelves = new Map<string, Shelf<T>>();
  private stopped = false;
  /** Aborted by stop(): every instance still being made gives up. */
  private readonly stopping = new AbortController();
  private readonly makings = new Set<Promise<void>>();

  constructor(
    configs: readonly HotImageConfig[],
    /** Makes an instance of `image`; rejects soon once `signal` aborts, leaving nothing behind. */
    private readonly make: (image: string, signal: AbortSignal) => Promise<T>,
    private readonly onError: (image: string, error: unknown) => void,
  ) {
    for (const config of configs) this.shelves.set(config.image, { config, ready: [], making: 0 });
    // Every instance being made listens on it while it waits: as many as the shelves' max together.
    setMaxListeners(0, this.stopping.signal);
  }

  /** A ready instance of `image`, if one is on the shelf; its replacement is started. */
  take(image: string): T | undefined {
    const shelf = this.shelves.get(image);
    const taken = shelf?.ready.shift();
    if (taken !== undefined) this.refill();
    return taken;
  }

  /** Starts making instances until every image has `min` ready or in the making (never over `max`). */
  refill(): void {
    if (this.stopped) return;
    for (const shelf of this.shelves.values()) {
      while (shelf.ready.length + shelf.making < shelf.config.min && shelf.ready.length + shelf.making < shelf.config.max) {
        shelf.making += 1;
        const making: Promise<void> = this.make(shelf.config.image, this.stopping.signal)
          .then(
            (instance) => {
              shelf.ready.push(instance);
            },
            (error: unknown) => {
              // Retried by the next refill (the controller calls refill periodically); a cancelled one is no news.
              if (!this.stopped) this.onError(shelf.config.image, error);
            },
          )
          .finally(() => {
            shelf.making -= 1;
            this.makings.delete(making);
          });
        this.makings.add(making);
      }
    }
  }

  /** Every ready instance (for the controller's checks). */
  shelved(): T[] {
    return [...this.shelves.values()].flatMap((shelf) => shelf.ready);
  }

  /** Takes an instance that went bad (its server exited, its runner went away) off its shelf; the shelf is refilled. */
  remove(instance: T): boolean {
    for (const shelf of this.shelves.values()) {
      const at = shelf.ready.indexOf(instance);
      if (at < 0) continue;
      shelf.ready.splice(at, 1);
      this.refill();
      return true;
    }
    return false;
  }

  /** Puts back an instance made ahead by an earlier controller; false when `image` has no shelf or it is full. */
  adopt(image: string, instance: T): boolean {
    const shelf = this.shelves.get(image);
    if (!shelf || this.stopped || shelf.ready.length + shelf.making >= shelf.config.max) return false;
    shelf.ready.push(instance);
    return true;
  }

  /** Ready and in-the-making counts per image. */
  status(): Array<{ image: string; ready: number; making: number; min: number; max: number }> {
    return [...this.shelves.values()].map((s) => ({ image: s.config.image, ready: s.ready.length, making: s.making, min: s.config.min, max: s.config.max }));
  }

  /**
   * Stops refilling, cancels the instances being made and waits for them to give up, then hands
   * back every ready instance (one finished just as it was cancelled included).
   */
  async stop(): Promise<T[]> {
    this.stopped = true;
    this.stopping.abort();
    await Promise.all(this.makings);
    return [...this.shelves.values()].flatMap((shelf) => shelf.ready.splice(0));
  }
}

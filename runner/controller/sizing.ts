/**
 * How many warm runners a pool should keep: enough to absorb the arrivals that come while a
 * replacement is being made (rate x refill time), plus a burst margin, within the configured
 * bounds. Arrival rate is an exponentially weighted moving average, so a burst raises the target
 * quickly and an idle spell lowers it gradually.
 */

export interface SizingConfig {
  min: number;
  max: number;
  /** Extra warm runners on top of rate x refill time. */
  burstMargin: number;
  /** Half-life of the arrival-rate average, in seconds. */
  halfLifeSeconds: number;
}

export interface RateEstimate {
  /** Activations per second. */
  rate: number;
  /** When the estimate was last updated (ms). */
  atMs: number;
}

/** Folds the arrivals counted since the last update into the moving average. */
export function updateRate(previous: RateEstimate, arrivals: number, nowMs: number, halfLifeSeconds: number): RateEstimate {
  const elapsed = Math.max(0, (nowMs - previous.atMs) / 1000);
  if (elapsed === 0) return previous;
  const observed = arrivals / elapsed;
  const keep = Math.pow(0.5, elapsed / halfLifeSeconds);
  return { rate: previous.rate * keep + observed * (1 - keep), atMs: nowMs };
}

/**
 * Demand (rate x refill time, in runners) below this counts as none: the moving average only
 * approaches zero after arrivals stop, and rounding its tail up would hold the target one above
 * min forever. Below it, fewer than one activation arrives per ten refill times.
 */
export const NEGLIGIBLE_DEMAND = 0.1;

/** The warm target for an arrival rate and a measured refill time (seconds), within [min, max]. */
export function warmTarget(rate: number, refillSeconds: number, config: SizingConfig): number {
  const demand = rate * refillSeconds;
  const needed = Math.ceil((demand < NEGLIGIBLE_DEMAND ? 0 : demand) + config.burstMargin);
  return Math.min(config.max, Math.max(config.min, needed));
}

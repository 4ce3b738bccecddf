/** The log line for a pool event worth a human's attention: autoscaling decisions and failures. */
import type { PoolEvent } from './pool.js';

export function describePoolEvent(event: PoolEvent): string | undefined {
  switch (event.type) {
    case 'target-changed':
      return `autoscale: warm target ${event.from} -> ${event.to} (arrival rate ${event.arrivalRate.toFixed(2)}/s, refill ${event.refillSeconds.toFixed(2)} s)`;
    case 'runner-failed':
      return `runner creation failed: ${event.message} (${event.consecutiveFailures} in a row; next attempt in ${(event.retryInMs / 1000).toFixed(1)} s)`;
    case 'error':
      return `pool: ${event.message}`;
    default:
      return undefined;
  }
}

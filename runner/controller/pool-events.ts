/** The log line for a pool event worth a human's attention: autoscaling decisions and failures (prefetches included). */
import type { PoolEvent } from './pool.js';

export function describePoolEvent(event: PoolEvent): string | undefined {
  switch (event.type) {
    case 'target-changed':
      return `autoscale: warm target ${event.from} -> ${event.to} (arrival rate ${event.arrivalRate.toFixed(2)}/s, refill ${event.refillSeconds.toFixed(2)} s)`;
    case 'runner-failed':
      return `runner creation failed: ${event.message} (${event.consecutiveFailures} in a row; next attempt in ${(event.retryInMs / 1000).toFixed(1)} s)`;
    case 'runner-prefetched': {
      const problems = [
        ...event.failures.map((failure) => `${failure.image} failed (${failure.code}: ${failure.message})`),
        ...(event.unanswered !== undefined ? [`its agent did not answer (${event.unanswered})`] : []),
      ];
      return problems.length === 0 ? undefined : `prefetch into runner ${event.runner.id}: ${problems.join('; ')}; it is warm without them`;
    }
    case 'error':
      return `pool: ${event.message}`;
    default:
      return undefined;
  }
}

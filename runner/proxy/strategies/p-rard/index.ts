/**
 * P-RARD (pooled request-attach, response-detach; toolhive#1589 option B): K backends, each
 * initialized once; each request attaches to the least-loaded backend with room (one request at
 * a time each), except that a session that has left state in a backend (affinity.ts) keeps all
 * its later requests on that backend.
 */
import type { ProxyStrategy } from '../../strategy.js';
import { sharedBackendsStrategy } from '../shared-backends.js';
import { leavesSessionState } from './affinity.js';

export function pRardStrategy(backends: number): ProxyStrategy {
  return sharedBackendsStrategy({ name: 'p-rard', backends, pinsSession: (call) => leavesSessionState(call.method) });
}

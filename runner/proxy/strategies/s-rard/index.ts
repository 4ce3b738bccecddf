/**
 * S-RARD (simple request-attach, response-detach; toolhive#1589 option A): one backend,
 * initialized once. Requests queue and attach to it one at a time, so a serial stdio server sees
 * one request at a time and a slow request holds up the ones behind it (head-of-line blocking, by
 * design). Server notifications reach the session whose request is attached when they are sent;
 * list_changed reaches every session.
 */
import type { ProxyStrategy } from '../../strategy.js';
import { sharedBackendsStrategy } from '../shared-backends.js';

export function sRardStrategy(): ProxyStrategy {
  return sharedBackendsStrategy({ name: 's-rard', backends: 1, pinsSession: () => false });
}

/**
 * P-RARD session affinity: which requests leave state for their session in the server process
 * that handled them. A stdio server keeps such state per process, so once a session has sent one
 * of these, all its later requests go to that backend:
 *  - `resources/subscribe`, `resources/unsubscribe`: the server's subscription set (it sends
 *    `notifications/resources/updated` for what it holds);
 *  - `logging/setLevel`: the level the server filters its `notifications/message` by.
 * Before that, a session's requests go wherever there is room.
 */
export const SESSION_STATE_METHODS: readonly string[] = ['resources/subscribe', 'resources/unsubscribe', 'logging/setLevel'];

export function leavesSessionState(method: string): boolean {
  return SESSION_STATE_METHODS.includes(method);
}

/**
 * Where a notification from a shared MCP server goes. stdio carries no session, so the route
 * follows from the notification itself:
 *  - `notifications/progress`: to the request whose (rewritten) progress token it names;
 *  - `notifications/cancelled`: the server gave up a request it sent to a client: to that client;
 *  - `notifications/{tools,prompts,resources}/list_changed`: to every session on the server
 *    (what changed is the server's, not one session's);
 *  - `notifications/resources/updated`: to the sessions that subscribed to that resource;
 *  - anything else (log messages, custom notifications): to the session it belongs to.
 */
import { isJsonRpcId, type JsonRpcId, type JsonRpcNotification } from '../jsonrpc.js';

export type NotificationRoute =
  | { to: 'request'; progressToken: JsonRpcId }
  | { to: 'server-request'; requestId: JsonRpcId }
  | { to: 'everyone' }
  | { to: 'subscribers'; uri: string }
  | { to: 'owner' }
  /** Malformed (a progress notification without a token...): nobody can use it. */
  | { to: 'nobody' };

export const LIST_CHANGED_METHODS: readonly string[] = [
  'notifications/tools/list_changed',
  'notifications/prompts/list_changed',
  'notifications/resources/list_changed',
];

export function routeOf(notification: JsonRpcNotification): NotificationRoute {
  const params = notification.params;
  switch (notification.method) {
    case 'notifications/progress':
      return isJsonRpcId(params?.progressToken) ? { to: 'request', progressToken: params.progressToken } : { to: 'nobody' };
    case 'notifications/cancelled':
      return isJsonRpcId(params?.requestId) ? { to: 'server-request', requestId: params.requestId } : { to: 'nobody' };
    case 'notifications/resources/updated':
      return typeof params?.uri === 'string' ? { to: 'subscribers', uri: params.uri } : { to: 'nobody' };
    default:
      return LIST_CHANGED_METHODS.includes(notification.method) ? { to: 'everyone' } : { to: 'owner' };
  }
}

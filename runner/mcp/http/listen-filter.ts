/**
 * The notification filter of a 2026-07-28 `subscriptions/listen` stream: which change
 * notifications the client opts into, what the server can honour, and whether one notification
 * passes. A stream carries nothing the client did not ask for.
 */
import { isJsonObject, type JsonObject, type JsonRpcNotification } from '../jsonrpc.js';

export interface ListenFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

const LIST_FLAGS = {
  toolsListChanged: { method: 'notifications/tools/list_changed', capability: 'tools' },
  promptsListChanged: { method: 'notifications/prompts/list_changed', capability: 'prompts' },
  resourcesListChanged: { method: 'notifications/resources/list_changed', capability: 'resources' },
} as const;

type ListFlag = keyof typeof LIST_FLAGS;
const FLAGS = Object.keys(LIST_FLAGS) as ListFlag[];

/** The filter in a listen request's params, or what is wrong with it. */
export function parseListenFilter(params: JsonObject | undefined): ListenFilter | string {
  const notifications = params?.notifications;
  if (!isJsonObject(notifications)) return 'params.notifications must be an object (the notification filter)';
  const filter: ListenFilter = {};
  for (const [name, value] of Object.entries(notifications)) {
    if ((FLAGS as string[]).includes(name)) {
      if (typeof value !== 'boolean') return `params.notifications.${name} must be a boolean`;
      if (value) filter[name as ListFlag] = true;
    } else if (name === 'resourceSubscriptions') {
      if (!Array.isArray(value) || !value.every((uri) => typeof uri === 'string')) return 'params.notifications.resourceSubscriptions must be an array of URIs';
      filter.resourceSubscriptions = [...new Set(value as string[])];
    } else {
      return `params.notifications.${name} is not a known notification filter field`;
    }
  }
  return filter;
}

function capability(capabilities: JsonObject, name: string, flag: string): boolean {
  const entry = capabilities[name];
  return isJsonObject(entry) && entry[flag] === true;
}

/** The list-change part of `requested` that a server with `capabilities` honours (types it cannot send are left out). */
export function agreedListChanges(requested: ListenFilter, capabilities: JsonObject): ListenFilter {
  const agreed: ListenFilter = {};
  for (const flag of FLAGS) if (requested[flag] && capability(capabilities, LIST_FLAGS[flag].capability, 'listChanged')) agreed[flag] = true;
  return agreed;
}

/** Whether the server can take resource subscriptions at all. */
export function canSubscribe(capabilities: JsonObject): boolean {
  return capability(capabilities, 'resources', 'subscribe');
}

/** Whether a notification passes an agreed filter. */
export function passes(filter: ListenFilter, notification: JsonRpcNotification): boolean {
  if (notification.method === 'notifications/resources/updated') {
    const uri = notification.params?.uri;
    return typeof uri === 'string' && (filter.resourceSubscriptions ?? []).includes(uri);
  }
  return FLAGS.some((flag) => filter[flag] === true && LIST_FLAGS[flag].method === notification.method);
}

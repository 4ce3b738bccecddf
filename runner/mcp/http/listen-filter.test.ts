import { describe, expect, it } from 'vitest';
import { agreedListChanges, canSubscribe, parseListenFilter, passes } from './listen-filter.js';

const note = (method: string, params?: Record<string, unknown>) => ({ jsonrpc: '2.0' as const, method, ...(params ? { params } : {}) });

describe('listen filters', () => {
  it('reads a filter and refuses malformed ones', () => {
    expect(parseListenFilter({ notifications: { toolsListChanged: true, promptsListChanged: false, resourceSubscriptions: ['a://1', 'a://1'] } })).toEqual({
      toolsListChanged: true,
      resourceSubscriptions: ['a://1'],
    });
    expect(parseListenFilter(undefined)).toMatch(/must be an object/);
    expect(parseListenFilter({ notifications: { toolsListChanged: 'yes' } })).toMatch(/toolsListChanged must be a boolean/);
    expect(parseListenFilter({ notifications: { resourceSubscriptions: [1] } })).toMatch(/array of URIs/);
    expect(parseListenFilter({ notifications: { logging: true } })).toMatch(/not a known/);
  });

  it('agrees only to what the server can send', () => {
    const capabilities = { tools: { listChanged: true }, resources: { subscribe: true } };
    expect(agreedListChanges({ toolsListChanged: true, promptsListChanged: true, resourcesListChanged: true }, capabilities)).toEqual({ toolsListChanged: true });
    expect(canSubscribe(capabilities)).toBe(true);
    expect(canSubscribe({ resources: {} })).toBe(false);
  });

  it('passes only what the filter names', () => {
    const filter = { toolsListChanged: true, resourceSubscriptions: ['a://1'] };
    expect(passes(filter, note('notifications/tools/list_changed'))).toBe(true);
    expect(passes(filter, note('notifications/prompts/list_changed'))).toBe(false);
    expect(passes(filter, note('notifications/resources/updated', { uri: 'a://1' }))).toBe(true);
    expect(passes(filter, note('notifications/resources/updated', { uri: 'a://2' }))).toBe(false);
    expect(passes(filter, note('notifications/message', { level: 'info' }))).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { routeOf } from './notification-route.js';

const note = (method: string, params?: Record<string, unknown>) => (params === undefined ? { jsonrpc: '2.0' as const, method } : { jsonrpc: '2.0' as const, method, params });

describe('routeOf', () => {
  it('sends progress to the request holding the token, keeping 1 and "1" apart', () => {
    expect(routeOf(note('notifications/progress', { progressToken: 7, progress: 1 }))).toEqual({ to: 'request', progressToken: 7 });
    expect(routeOf(note('notifications/progress', { progressToken: '7', progress: 1 }))).toEqual({ to: 'request', progressToken: '7' });
    expect(routeOf(note('notifications/progress', { progress: 1 }))).toEqual({ to: 'nobody' });
  });

  it('sends the server cancelling its own request to the client that holds it', () => {
    expect(routeOf(note('notifications/cancelled', { requestId: 'sample-1' }))).toEqual({ to: 'server-request', requestId: 'sample-1' });
    expect(routeOf(note('notifications/cancelled', {}))).toEqual({ to: 'nobody' });
  });

  it('sends list_changed to everyone and resource updates to subscribers', () => {
    for (const kind of ['tools', 'prompts', 'resources']) expect(routeOf(note(`notifications/${kind}/list_changed`))).toEqual({ to: 'everyone' });
    expect(routeOf(note('notifications/resources/updated', { uri: 'fixture://config' }))).toEqual({ to: 'subscribers', uri: 'fixture://config' });
    expect(routeOf(note('notifications/resources/updated', { uri: 3 }))).toEqual({ to: 'nobody' });
  });

  it('sends log messages and anything unknown to the session it belongs to', () => {
    expect(routeOf(note('notifications/message', { level: 'info', data: 'x' }))).toEqual({ to: 'owner' });
    expect(routeOf(note('notifications/custom/thing'))).toEqual({ to: 'owner' });
  });
});

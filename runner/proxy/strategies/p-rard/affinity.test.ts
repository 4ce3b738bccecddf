import { describe, expect, it } from 'vitest';
import { leavesSessionState } from './affinity.js';

describe('P-RARD affinity', () => {
  it('pins on subscriptions and log levels only', () => {
    for (const method of ['resources/subscribe', 'resources/unsubscribe', 'logging/setLevel']) expect(leavesSessionState(method)).toBe(true);
    for (const method of ['tools/call', 'tools/list', 'resources/read', 'ping', 'prompts/get']) expect(leavesSessionState(method)).toBe(false);
  });
});

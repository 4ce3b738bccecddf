import { describe, expect, it } from 'vitest';
import { caught } from '../../test/support/caught.js';
import { ActivationRegistry } from './activation-registry.js';

const activation = (n: number) => ({ activationId: `a-${n}`, runner: `runner-${n}` });
const lookupError = (registry: ActivationRegistry<{ activationId: string; runner: string }>, id: string) => caught(Promise.resolve().then(() => registry.get(id)));

describe('ActivationRegistry', () => {
  it('lists live activations and finds them by id and by runner', () => {
    const registry = new ActivationRegistry();
    registry.add(activation(1));
    registry.add(activation(2));
    expect(registry.list().map((a) => a.activationId)).toEqual(['a-1', 'a-2']);
    expect(registry.get('a-2')).toEqual(activation(2));
    expect(registry.onRunner('runner-1')).toEqual(activation(1));
    expect(registry.onRunner('runner-9')).toBeUndefined();
  });

  it('ends an activation once, and then says why it is not found', async () => {
    const registry = new ActivationRegistry();
    registry.add(activation(1));
    expect(registry.end('a-1', 'server-exited')).toBe(true);
    expect(registry.end('a-1', 'deleted')).toBe(false);
    expect(registry.has('a-1')).toBe(false);
    const error = await lookupError(registry, 'a-1');
    expect(error.code).toBe('INSTANCE_NOT_FOUND');
    expect(error.message).toContain('its MCP server exited');
    expect(error.details).toEqual({ activationId: 'a-1', ended: 'server-exited' });
    expect((await lookupError(registry, 'a-7')).details).toEqual({ activationId: 'a-7' });
  });

  it('remembers a bounded number of ended activations, forgetting the oldest', async () => {
    const registry = new ActivationRegistry(2);
    for (const n of [1, 2, 3]) {
      registry.add(activation(n));
      registry.end(`a-${n}`, 'lease-expired');
    }
    expect((await lookupError(registry, 'a-1')).details).toEqual({ activationId: 'a-1' });
    expect((await lookupError(registry, 'a-3')).details).toMatchObject({ ended: 'lease-expired' });
  });
});

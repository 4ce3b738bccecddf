import { describe, expect, it } from 'vitest';
import { checkServerName, ServerLifecycle } from './servers.js';

function lifecycle(options: { failStarts?: number } = {}) {
  let next = 0;
  let failures = options.failStarts ?? 0;
  const stopped: string[] = [];
  const servers = new ServerLifecycle<string>(
    [{ name: 'memory', image: 'registry/mcp/memory:1' }],
    {
      start: async ({ image }) => {
        if (failures > 0) {
          failures -= 1;
          throw new Error('activation failed');
        }
        return `${image}#${++next}`;
      },
      stop: async (activation, force) => {
        stopped.push(`${activation}${force ? ' (force)' : ''}`);
      },
    },
  );
  return { servers, stopped };
}

describe('ServerLifecycle', () => {
  it('starts, scales and stops, idempotently', async () => {
    const { servers, stopped } = lifecycle();
    expect(servers.status('memory')).toMatchObject({ status: 'stopped', replicas: 0, readyReplicas: 0 });
    expect(await servers.start('memory')).toMatchObject({ status: 'running', replicas: 1, readyReplicas: 1 });
    expect(await servers.start('memory')).toMatchObject({ status: 'running', replicas: 1, activations: ['registry/mcp/memory:1#1'] });
    expect(await servers.scale('memory', 3)).toMatchObject({ status: 'running', readyReplicas: 3 });
    expect(await servers.scale('memory', 3)).toMatchObject({ readyReplicas: 3 });
    expect(await servers.scale('memory', 1)).toMatchObject({ readyReplicas: 1 });
    expect(stopped).toEqual(['registry/mcp/memory:1#2', 'registry/mcp/memory:1#3']);
    expect(await servers.stop('memory', true)).toMatchObject({ status: 'stopped', replicas: 0 });
    expect(stopped).toContain('registry/mcp/memory:1#1 (force)');
    expect(await servers.stop('memory')).toMatchObject({ status: 'stopped' });
  });

  it('reports a failed start and shows what did come up', async () => {
    const { servers } = lifecycle({ failStarts: 1 });
    await expect(servers.scale('memory', 2)).rejects.toThrow('activation failed');
    expect(servers.status('memory')).toMatchObject({ status: 'scaling', replicas: 2, readyReplicas: 1 });
    expect(await servers.scale('memory', 2)).toMatchObject({ status: 'running', readyReplicas: 2 });
  });

  it('adopts replicas a restarted controller recovered, and forgets replicas that ended on their own', async () => {
    const { servers } = lifecycle();
    expect(servers.adopt('memory', 'recovered#1')).toBe(true);
    expect(servers.adopt('gone', 'recovered#2')).toBe(false);
    expect(servers.status('memory')).toMatchObject({ status: 'running', replicas: 1, readyReplicas: 1, activations: ['recovered#1'] });
    expect(servers.forget('recovered#1')).toBe(true);
    expect(servers.forget('recovered#1')).toBe(false);
    expect(servers.status('memory')).toMatchObject({ status: 'pending', replicas: 1, readyReplicas: 0 });
    expect(await servers.start('memory')).toMatchObject({ status: 'running', readyReplicas: 1 });
  });

  it('refuses unknown servers and replica counts out of range', () => {
    const { servers } = lifecycle();
    expect(() => servers.status('nope')).toThrowError(expect.objectContaining({ code: 'SERVER_NOT_FOUND' }));
    expect(() => servers.scale('memory', 11)).toThrowError(expect.objectContaining({ code: 'REQUEST_INVALID' }));
    expect(() => servers.scale('memory', -1)).toThrowError(expect.objectContaining({ code: 'REQUEST_INVALID' }));
  });

  it.each(['memory', 'a', 'mcp-server-1'])('accepts the DNS-1123 name %s', (name) => expect(() => checkServerName(name)).not.toThrow());
  it.each(['Memory', '-a', 'a-', 'a_b', 'x'.repeat(64), ''])('refuses the name %j', (name) =>
    expect(() => checkServerName(name)).toThrowError(expect.objectContaining({ code: 'REQUEST_INVALID' })));
});

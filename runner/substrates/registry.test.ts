import { describe, expect, it } from 'vitest';
import { McpWarmError } from '../errors.js';
import { DockerSubstrate } from './docker/index.js';
import { ProcessSubstrate } from './process/index.js';
import { createSubstrate } from './registry.js';

describe('createSubstrate', () => {
  it('makes the process substrate', async () => {
    const substrate = createSubstrate('process', { stateDir: '/nonexistent/state' });
    expect(substrate).toBeInstanceOf(ProcessSubstrate);
    expect(substrate.name).toBe('process');
    await substrate.close();
  });

  it('makes the docker substrate without reaching the engine', async () => {
    const substrate = createSubstrate('docker', { stateDir: '/nonexistent/state', socketPath: '/nonexistent/docker.sock' });
    expect(substrate).toBeInstanceOf(DockerSubstrate);
    expect(substrate.name).toBe('docker');
    await substrate.close();
  });

  it('refuses an unknown name with USAGE_INVALID', () => {
    let error: unknown;
    try {
      createSubstrate('mainframe', { stateDir: '/nonexistent/state' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(McpWarmError);
    expect((error as McpWarmError).code).toBe('USAGE_INVALID');
    expect((error as McpWarmError).message).toContain('process');
  });
});

import { describe, expect, it } from 'vitest';
import { McpWarmError } from '../errors.js';
import { ProcessSubstrate } from './process/index.js';
import { createSubstrate } from './registry.js';

describe('createSubstrate', () => {
  it('makes the process substrate', async () => {
    const substrate = createSubstrate('process', { stateDir: '/nonexistent/state' });
    expect(substrate).toBeInstanceOf(ProcessSubstrate);
    expect(substrate.name).toBe('process');
    await substrate.close();
  });

  it('refuses an unknown name with USAGE_INVALID', () => {
    let error: unknown;
    try {
      createSubstrate('kubernetes', { stateDir: '/nonexistent/state' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(McpWarmError);
    expect((error as McpWarmError).code).toBe('USAGE_INVALID');
    expect((error as McpWarmError).message).toContain('process');
  });
});

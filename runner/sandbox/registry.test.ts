import { describe, expect, it } from 'vitest';
import { caught } from '../../test/support/caught.js';
import { createSandboxRegistry } from './registry.js';
import type { Sandbox, SandboxAvailability, SandboxName } from './types.js';

/** A sandbox whose availability is given; selection never launches anything. */
function sandbox(name: SandboxName, strength: number, availability: SandboxAvailability | Error): Sandbox & { probes: number } {
  return {
    name,
    strength,
    probes: 0,
    async probe() {
      this.probes += 1;
      if (availability instanceof Error) throw availability;
      return availability;
    },
    launch: () => Promise.reject(new Error('not launched in registry tests')),
    sweep: () => Promise.resolve(),
  };
}

describe('createSandboxRegistry', () => {
  it('picks the strongest available sandbox for auto', async () => {
    const registry = createSandboxRegistry([
      sandbox('none', 1, { available: true }),
      sandbox('runc', 4, { available: false, reason: 'runc is not installed' }),
      sandbox('chroot', 2, { available: true }),
      sandbox('bwrap', 3, { available: true }),
    ]);
    expect((await registry.select('auto')).name).toBe('bwrap');
    expect(registry.all().map((entry) => entry.name)).toEqual(['runc', 'bwrap', 'chroot', 'none']);
  });

  it("refuses an unavailable sandbox by name with its probe's reason", async () => {
    const registry = createSandboxRegistry([sandbox('runc', 4, { available: false, reason: 'runc needs root' }), sandbox('none', 1, { available: true })]);
    const error = await caught(registry.select('runc'));
    expect(error.code).toBe('SANDBOX_UNAVAILABLE');
    expect(error.message).toContain('runc needs root');
    expect((await registry.select('none')).name).toBe('none');
  });

  it('probes each sandbox once, and a failing probe means unavailable', async () => {
    const runc = sandbox('runc', 4, new Error('cgroup mount unreadable'));
    const none = sandbox('none', 1, { available: true });
    const registry = createSandboxRegistry([runc, none]);
    await registry.select('auto');
    await registry.select('none');
    const report = await registry.report();
    expect(report).toEqual([
      { name: 'runc', strength: 4, available: false, reason: 'probe failed: cgroup mount unreadable' },
      { name: 'none', strength: 1, available: true },
    ]);
    expect([runc.probes, none.probes]).toEqual([1, 1]);
  });

  it('fails auto when nothing can run, listing every reason', async () => {
    const registry = createSandboxRegistry([sandbox('chroot', 2, { available: false, reason: 'chroot needs root' })]);
    const error = await caught(registry.select('auto'));
    expect(error.code).toBe('SANDBOX_UNAVAILABLE');
    expect(error.message).toContain('chroot: chroot needs root');
  });
});

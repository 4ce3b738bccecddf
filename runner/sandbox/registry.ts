/**
 * The sandboxes this build knows, and picking one: by name, or `auto` for the strongest that can
 * run here. Whether a sandbox can run is probed once per process (probes start processes).
 */
import { McpWarmError } from '../errors.js';
import { BwrapSandbox } from './bwrap/index.js';
import { ChrootSandbox } from './chroot/index.js';
import { NoneSandbox } from './none/index.js';
import { RuncSandbox } from './runc/index.js';
import type { Sandbox, SandboxAvailability, SandboxName } from './types.js';

export interface SandboxReportEntry extends SandboxAvailability {
  name: SandboxName;
  strength: number;
}

export interface SandboxRegistry {
  /** Every sandbox, strongest first. */
  all(): Sandbox[];
  select(name: SandboxName | 'auto'): Promise<Sandbox>;
  report(): Promise<SandboxReportEntry[]>;
}

export function createSandboxRegistry(sandboxes: readonly Sandbox[]): SandboxRegistry {
  const ordered = [...sandboxes].sort((a, b) => b.strength - a.strength);
  const probes = new Map<Sandbox, Promise<SandboxAvailability>>();
  const availability = (sandbox: Sandbox): Promise<SandboxAvailability> => {
    let probe = probes.get(sandbox);
    if (probe === undefined) {
      probe = sandbox.probe().catch((error: unknown) => ({ available: false, reason: `probe failed: ${(error as Error).message}` }));
      probes.set(sandbox, probe);
    }
    return probe;
  };
  const report = async (): Promise<SandboxReportEntry[]> =>
    Promise.all(ordered.map(async (sandbox) => ({ name: sandbox.name, strength: sandbox.strength, ...(await availability(sandbox)) })));

  return {
    all: () => [...ordered],
    report,
    async select(name) {
      if (name === 'auto') {
        const entries = await report();
        const best = entries.find((entry) => entry.available);
        if (best === undefined) {
          throw new McpWarmError('SANDBOX_UNAVAILABLE', `no sandbox can run here: ${entries.map((entry) => `${entry.name}: ${entry.reason}`).join('; ')}`, {
            details: { sandboxes: entries },
          });
        }
        return ordered.find((sandbox) => sandbox.name === best.name)!;
      }
      const sandbox = ordered.find((candidate) => candidate.name === name);
      if (sandbox === undefined) throw new McpWarmError('SANDBOX_UNAVAILABLE', `there is no sandbox named ${JSON.stringify(name)}`);
      const { available, reason } = await availability(sandbox);
      if (!available) throw new McpWarmError('SANDBOX_UNAVAILABLE', `the ${name} sandbox cannot run here: ${reason}`, { details: { sandbox: name, reason } });
      return sandbox;
    },
  };
}

const registry = createSandboxRegistry([new RuncSandbox(), new BwrapSandbox(), new ChrootSandbox(), new NoneSandbox()]);

export function allSandboxes(): Sandbox[] {
  return registry.all();
}

export function selectSandbox(name: SandboxName | 'auto'): Promise<Sandbox> {
  return registry.select(name);
}

/** Each sandbox with whether it can run here (and why not), strongest first. */
export function sandboxReport(): Promise<SandboxReportEntry[]> {
  return registry.report();
}

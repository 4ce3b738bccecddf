/**
 * A network namespace of this process's own, joined to the host by a veth pair: the host end and
 * the namespace end hold the two addresses of a /30 that no route of the machine covered, and
 * `lo` is up inside. What runs inside (started through `execPrefix`) is reached from the host at
 * `namespaceAddress`, over the veth, where the kernel can shape the bytes (tc on either end).
 * Needs root and iproute2. Every step made is undone when a later one fails, and `remove()`
 * deletes the veth (both ends go with one) and the namespace; it does not stop what runs inside,
 * which keeps a namespace alive after its name is gone.
 */
import { randomBytes } from 'node:crypto';
import { CleanupStack } from '../../runner/cleanup-stack.js';
import { findExecutable, isProcessAlive, requireExecutable, run } from '../../runner/exec.js';
import { unusedSubnet } from './private-subnet.js';

export const NAMESPACE_PREFIX = 'mcpwarm-';

export interface VethNamespace {
  /** `mcpwarm-<id>`, as `ip netns list` shows it. */
  name: string;
  /** The veth end in the host's namespace (`mwh<id>`) and its address. */
  hostDevice: string;
  hostAddress: string;
  /** The veth end inside the namespace (`mwn<id>`) and its address. */
  namespaceDevice: string;
  namespaceAddress: string;
  /** Runs a command inside the namespace when put in front of it (`ip netns exec NAME`). */
  execPrefix: readonly string[];
  /** Deletes the veth pair and the namespace; safe to call again. */
  remove(): Promise<void>;
}

/** Why a namespace cannot be made here, or undefined when it can. */
export function netnsUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  if (findExecutable('ip') === undefined) return 'ip (iproute2) is not installed';
  return undefined;
}

/**
 * An id that names the process owning the namespace: `o`, 4 random hex digits, the pid in base 36
 * (at most 11 characters, so `mwh<id>` fits a device name's 15). A random hex id never starts with
 * `o`, so only namespaces made this way are ever swept.
 */
export function ownedNamespaceId(pid: number = process.pid): string {
  return `o${randomBytes(2).toString('hex')}${pid.toString(36)}`;
}

/** The owner's pid of a namespace name made from an owned id, or undefined for any other name. */
export function namespaceOwner(name: string): number | undefined {
  const match = new RegExp(`^${NAMESPACE_PREFIX}o[0-9a-f]{4}([0-9a-z]{1,6})$`).exec(name);
  return match ? Number.parseInt(match[1]!, 36) : undefined;
}

/**
 * Removes what runs killed outright (SIGKILL, a crash) left: each namespace of an owned id whose
 * owner is gone, the processes still inside it (a registry outlives the run that started it), and
 * its veth pair. Namespaces of live owners, and any other namespace, are left alone. Returns the
 * names removed.
 */
export async function sweepStaleNamespaces(): Promise<string[]> {
  const ip = requireExecutable('ip', 'iproute2');
  const swept: string[] = [];
  for (const name of await namespaceNames()) {
    const owner = namespaceOwner(name);
    if (owner === undefined || isProcessAlive(owner)) continue;
    const inside = (await run(ip, ['netns', 'pids', name]).catch(() => '')).split('\n').filter(Boolean).map(Number);
    for (const pid of inside) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    await deleteDevice(ip, `mwh${name.slice(NAMESPACE_PREFIX.length)}`);
    await deleteNamespace(ip, name);
    swept.push(name);
  }
  return swept;
}

/**
 * Makes the namespace and its veth pair, after sweeping what killed runs left. `id` (by default
 * an owned one: ownedNamespaceId) names both; a name already taken is an error, and what already
 * has it is left alone.
 */
export async function createVethNamespace(options: { id?: string } = {}): Promise<VethNamespace> {
  const ip = requireExecutable('ip', 'iproute2');
  await sweepStaleNamespaces();
  const id = options.id ?? ownedNamespaceId();
  if (!/^[0-9a-z]{1,12}$/.test(id)) throw new Error(`namespace id ${id}: expected 1 to 12 lowercase letters or digits`);
  const name = `${NAMESPACE_PREFIX}${id}`;
  const hostDevice = `mwh${id}`;
  const namespaceDevice = `mwn${id}`;
  const undo = new CleanupStack();
  const remove = async (): Promise<void> => {
    const failures = await undo.run();
    if (failures.length > 0) throw failures[0]!.error;
  };
  try {
    await run(ip, ['netns', 'add', name]);
    undo.push(`namespace ${name}`, () => deleteNamespace(ip, name));
    const third = await unusedSubnet();
    if (third === undefined) throw new Error('no free /24 in 10.231.0.0/16 for a veth pair');
    const [hostAddress, namespaceAddress] = [`10.231.${third}.1`, `10.231.${third}.2`];
    // The peer is made inside the namespace at once, so its name cannot clash with the host's.
    await run(ip, ['link', 'add', hostDevice, 'type', 'veth', 'peer', 'name', namespaceDevice, 'netns', name]);
    undo.push(`veth ${hostDevice}`, () => deleteDevice(ip, hostDevice));
    await run(ip, ['addr', 'add', `${hostAddress}/30`, 'dev', hostDevice]);
    await run(ip, ['link', 'set', hostDevice, 'up']);
    await run(ip, ['-n', name, 'addr', 'add', `${namespaceAddress}/30`, 'dev', namespaceDevice]);
    await run(ip, ['-n', name, 'link', 'set', namespaceDevice, 'up']);
    await run(ip, ['-n', name, 'link', 'set', 'lo', 'up']);
    return { name, hostDevice, hostAddress, namespaceDevice, namespaceAddress, execPrefix: [ip, 'netns', 'exec', name], remove };
  } catch (error) {
    await undo.run();
    throw error;
  }
}

/**
 * Deleting one end of a veth pair deletes both, at once; deleting the namespace alone would free
 * its end (and with it the host's) only later, when the kernel gets round to the namespace.
 */
async function deleteDevice(ip: string, device: string): Promise<void> {
  if (await deviceExists(device)) await run(ip, ['link', 'del', device]);
}

async function deleteNamespace(ip: string, name: string): Promise<void> {
  if ((await namespaceNames()).includes(name)) await run(ip, ['netns', 'del', name]);
}

/** Names of the network namespaces `ip netns` knows now. */
export async function namespaceNames(): Promise<string[]> {
  const out = await run(requireExecutable('ip', 'iproute2'), ['netns', 'list']);
  return out
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter(Boolean);
}

/** Whether the host's namespace has a network device of that name. */
export async function deviceExists(device: string): Promise<boolean> {
  const out = await run(requireExecutable('ip', 'iproute2'), ['-o', 'link', 'show']);
  return out.split('\n').some((line) => line.split(': ')[1]?.split('@')[0] === device);
}

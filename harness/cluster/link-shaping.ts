/**
 * The link between clients and a scenario's registry: `local` (the registry's own loopback
 * address), or shaped to a bandwidth and round-trip time, at an address of its own. The first
 * method this machine allows is used, and results record which one and why the ones before it
 * were not:
 *
 * - `netns-veth-tbf+proxy` (root, iproute2): a second registry serving the same storage read-only
 *   runs inside a network namespace of the link's own, reached over a veth pair whose two ends
 *   each carry a tbf qdisc at the link's rate, so the bytes between registry and clients are
 *   limited both ways by the kernel. This kernel has no netem, so the round-trip time is added by
 *   a shaping proxy on 127.0.0.1 that forwards over the veth (loopback also keeps the link plain
 *   HTTP for Docker and the agents).
 * - `tc-htb+proxy` (root, tc): the same proxy in front of the registry, its port's bytes limited
 *   by an htb class on `lo`.
 * - `proxy`: the proxy adds the round trip and enforces the rate itself.
 *
 * Every side of a comparison serves the one storage, so images pushed once are pulled over any
 * link by digest.
 */
import { CleanupStack } from '../../runner/cleanup-stack.js';
import { startLocalRegistry } from './local-registry.js';
import { createVethNamespace, netnsUnavailableReason } from './netns.js';
import { startShapingProxy } from './shaping-proxy.js';
import { limitDeviceRate, shapePort, tcUnavailableReason } from './tc-shaping.js';

export type LinkSpec =
  | { name: string; kind: 'local' }
  | { name: string; kind: 'shaped'; bandwidthBitsPerSecond: number; rttMs: number };

type ShapedLinkSpec = Extract<LinkSpec, { kind: 'shaped' }>;

/** How a shaped link's bandwidth is enforced. */
export type ShapingMethod = 'none' | 'netns-veth-tbf+proxy' | 'tc-htb+proxy' | 'proxy';

/** The registry a link leads to. */
export interface RegistryUpstream {
  host: string;
  port: number;
  /** Its storage root, which the registry inside a link's namespace serves read-only. */
  storageDir: string;
}

export interface RegistryLink {
  spec: LinkSpec;
  /** host:port for image references over this link. */
  address: string;
  method: ShapingMethod;
  /** Why the methods before `method` were not used. */
  fallbackReason?: string;
  /** Where the link's own registry runs (`ip netns exec NAME ss -tn` shows its connections). */
  namespace?: { name: string; hostDevice: string; namespaceDevice: string; registryPid: number };
  close(): Promise<void>;
}

/** The port of the registry inside a link's namespace: the namespace is the link's alone. */
const NAMESPACE_REGISTRY_PORT = 5000;

type OpenedLink = Pick<RegistryLink, 'address' | 'namespace'>;

interface LinkMethod {
  method: ShapingMethod;
  /** Why the method cannot be used here, or undefined when it can be tried. */
  unavailable(): string | undefined;
  /** Opens the link, pushing how to undo each step on `undo`. */
  open(spec: ShapedLinkSpec, registry: RegistryUpstream, stateDir: string, undo: CleanupStack): Promise<OpenedLink>;
}

/** Twice the bandwidth-delay product, so a connection is never held back by the proxy's queue. */
function proxyQueueBytes(spec: ShapedLinkSpec): number {
  return Math.max(2 ** 20, Math.ceil((spec.bandwidthBitsPerSecond / 8) * (spec.rttMs / 1000) * 2));
}

/** The kernel methods, best first. */
const KERNEL_METHODS: readonly LinkMethod[] = [
  {
    method: 'netns-veth-tbf+proxy',
    unavailable: () => netnsUnavailableReason() ?? tcUnavailableReason(),
    async open(spec, registry, stateDir, undo) {
      const ns = await createVethNamespace();
      undo.push(`namespace ${ns.name}`, () => ns.remove());
      try {
        // Each end's qdisc holds back what that end sends: requests in, answers out.
        await limitDeviceRate(ns.hostDevice, spec.bandwidthBitsPerSecond);
        await limitDeviceRate(ns.namespaceDevice, spec.bandwidthBitsPerSecond, ns.name);
        const inside = await startLocalRegistry({
          dir: stateDir,
          host: ns.namespaceAddress,
          port: NAMESPACE_REGISTRY_PORT,
          storageDir: registry.storageDir,
          readOnly: true,
          spawnPrefix: ns.execPrefix,
        });
        undo.push(`registry in ${ns.name}`, () => inside.stop());
        const proxy = await startShapingProxy({ upstream: { host: ns.namespaceAddress, port: inside.port }, rttMs: spec.rttMs, maxQueueBytes: proxyQueueBytes(spec) });
        undo.push('delay proxy', () => proxy.close());
        return { address: `${proxy.host}:${proxy.port}`, namespace: { name: ns.name, hostDevice: ns.hostDevice, namespaceDevice: ns.namespaceDevice, registryPid: inside.pid } };
      } catch (error) {
        throw new Error(`in namespace ${ns.name}: ${(error as Error).message}`, { cause: error });
      }
    },
  },
  {
    method: 'tc-htb+proxy',
    unavailable: tcUnavailableReason,
    async open(spec, registry, _stateDir, undo) {
      const proxy = await startShapingProxy({ upstream: registry, rttMs: spec.rttMs, maxQueueBytes: proxyQueueBytes(spec) });
      undo.push('delay proxy', () => proxy.close());
      const shaped = await shapePort(proxy.port, spec.bandwidthBitsPerSecond);
      undo.push(`htb classes ${shaped.classIds.join(' ')}`, () => shaped.remove());
      return { address: `${proxy.host}:${proxy.port}` };
    },
  },
];

/** Works anywhere: the fallback when no kernel method can be used. */
const USERSPACE_METHOD: LinkMethod = {
  method: 'proxy',
  unavailable: () => undefined,
  async open(spec, registry, _stateDir, undo) {
    const proxy = await startShapingProxy({ upstream: registry, rttMs: spec.rttMs, bandwidthBitsPerSecond: spec.bandwidthBitsPerSecond, maxQueueBytes: proxyQueueBytes(spec) });
    undo.push('shaping proxy', () => proxy.close());
    return { address: `${proxy.host}:${proxy.port}` };
  },
};

/**
 * Opens `spec` in front of `registry`; a shaped link keeps its own state (the namespace
 * registry's config and log) in `stateDir`. A kernel method that fails half-way is undone before
 * the next is tried; only the userspace method's failure is thrown.
 */
export async function openRegistryLink(spec: LinkSpec, registry: RegistryUpstream, stateDir: string): Promise<RegistryLink> {
  if (spec.kind === 'local') return { spec, address: `${registry.host}:${registry.port}`, method: 'none', close: async () => undefined };
  const reasons: string[] = [];
  for (const candidate of KERNEL_METHODS) {
    const reason = candidate.unavailable();
    if (reason !== undefined) {
      if (!reasons.includes(reason)) reasons.push(reason);
      continue;
    }
    try {
      return await openWith(candidate, spec, registry, stateDir, reasons);
    } catch (error) {
      reasons.push(`${candidate.method} failed: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  return openWith(USERSPACE_METHOD, spec, registry, stateDir, reasons);
}

/** Opens the link with one method; what it made is undone when it fails, or by close(). */
async function openWith(candidate: LinkMethod, spec: ShapedLinkSpec, registry: RegistryUpstream, stateDir: string, reasons: readonly string[]): Promise<RegistryLink> {
  const undo = new CleanupStack();
  let opened: OpenedLink;
  try {
    opened = await candidate.open(spec, registry, stateDir, undo);
  } catch (error) {
    await undo.run();
    throw error;
  }
  return {
    spec,
    ...opened,
    method: candidate.method,
    ...(reasons.length > 0 ? { fallbackReason: reasons.join('; ') } : {}),
    close: async () => {
      const failures = await undo.run();
      if (failures.length > 0) throw new AggregateError(failures.map((f) => f.error), `closing link ${spec.name}: ${failures.map((f) => f.what).join(', ')} failed`);
    },
  };
}

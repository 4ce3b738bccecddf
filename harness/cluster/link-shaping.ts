/**
 * The link between clients and a scenario's registry: `local` (the registry's own loopback
 * address), or shaped to a bandwidth and round-trip time. A shaped link is an address of its own:
 * a shaping proxy in front of the registry adds the round trip (this kernel has no netem); the
 * bandwidth is shaped by the kernel with an htb class on the proxy's port when running as root
 * with `tc`, and by the proxy itself otherwise. Both sides of a comparison use the same registry,
 * so images pushed once are pulled over either link by digest.
 *
 * The netns + veth layout would shape a registry started inside a network namespace;
 * starting the registry there needs local-registry.ts to spawn through `ip netns exec`, so the
 * kernel shaping here is on `lo`, which gives the same bandwidth limit to the same bytes.
 */
import { shapePort, tcUnavailableReason, type TcShapedPort } from './tc-shaping.js';
import { startShapingProxy, type ShapingProxy } from './shaping-proxy.js';

export type LinkSpec =
  | { name: string; kind: 'local' }
  | { name: string; kind: 'shaped'; bandwidthBitsPerSecond: number; rttMs: number };

/** How a shaped link's bandwidth is enforced. */
export type ShapingMethod = 'none' | 'tc-htb+proxy' | 'proxy';

export interface RegistryLink {
  spec: LinkSpec;
  /** host:port for image references over this link. */
  address: string;
  method: ShapingMethod;
  /** Why the kernel does not shape this link's rate, when the proxy does. */
  fallbackReason?: string;
  close(): Promise<void>;
}

export async function openRegistryLink(spec: LinkSpec, registry: { host: string; port: number }): Promise<RegistryLink> {
  if (spec.kind === 'local') return { spec, address: `${registry.host}:${registry.port}`, method: 'none', close: async () => undefined };
  const upstream = { host: registry.host, port: registry.port };
  // Twice the bandwidth-delay product, so a connection is never held back by the proxy's queue.
  const maxQueueBytes = Math.max(2 ** 20, Math.ceil((spec.bandwidthBitsPerSecond / 8) * (spec.rttMs / 1000) * 2));
  let fallbackReason = tcUnavailableReason();
  if (fallbackReason === undefined) {
    const proxy = await startShapingProxy({ upstream, rttMs: spec.rttMs, maxQueueBytes });
    let shaped: TcShapedPort | undefined;
    try {
      shaped = await shapePort(proxy.port, spec.bandwidthBitsPerSecond);
    } catch (error) {
      await proxy.close();
      fallbackReason = `tc failed: ${(error as Error).message.split('\n')[0]}`;
    }
    if (shaped !== undefined) return linkOf(spec, proxy, 'tc-htb+proxy', undefined, shaped);
  }
  const proxy = await startShapingProxy({ upstream, rttMs: spec.rttMs, bandwidthBitsPerSecond: spec.bandwidthBitsPerSecond, maxQueueBytes });
  return linkOf(spec, proxy, 'proxy', fallbackReason);
}

function linkOf(spec: LinkSpec, proxy: ShapingProxy, method: ShapingMethod, fallbackReason: string | undefined, shaped?: TcShapedPort): RegistryLink {
  return {
    spec,
    address: `${proxy.host}:${proxy.port}`,
    method,
    ...(fallbackReason !== undefined ? { fallbackReason } : {}),
    close: async () => {
      await proxy.close();
      await shaped?.remove();
    },
  };
}

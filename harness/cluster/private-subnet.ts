/**
 * Addresses for the machine's own virtual networks (a private Docker engine's bridge, a registry
 * link's veth pair): a /24 of 10.231.0.0/16 that no route of the machine covers, picked at random
 * so that runs starting at the same time rarely pick the same one.
 */
import { run } from '../../runner/exec.js';
import { shuffled } from '../../runner/shuffle.js';

/** The third octet of a /24 in 10.231.0.0/16 that none of `routes` (`ip route` output) covers. */
export function unusedThirdOctet(routes: string, random: () => number = Math.random): number | undefined {
  return shuffled([...Array(256).keys()], random).find((third) => !routes.includes(`10.231.${third}.`));
}

/** The third octet of a free /24 in 10.231.0.0/16 on this machine now, or undefined when none is. */
export async function unusedSubnet(): Promise<number | undefined> {
  return unusedThirdOctet(await run('ip', ['-4', 'route', 'show', 'table', 'all']));
}

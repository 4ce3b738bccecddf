import { describe, expect, it } from 'vitest';
import { unusedThirdOctet } from './private-subnet.js';

describe('unusedThirdOctet', () => {
  it('skips every /24 of 10.231.0.0/16 a route covers', () => {
    const taken = [...Array(256).keys()].filter((third) => third !== 77);
    const routes = taken.map((third) => `10.231.${third}.0/24 dev br${third} proto kernel scope link src 10.231.${third}.1`).join('\n');
    expect(unusedThirdOctet(routes)).toBe(77);
    expect(unusedThirdOctet(`${routes}\n10.231.77.0/30 dev mwh1 proto kernel scope link src 10.231.77.1`)).toBeUndefined();
  });

  it('picks at random among the free ones', () => {
    const routes = 'default via 192.0.2.1 dev eth0\n10.231.0.0/24 dev br0';
    expect(unusedThirdOctet(routes, () => 0)).not.toBe(0);
    expect(new Set([0.1, 0.5, 0.9].map((r) => unusedThirdOctet(routes, () => r))).size).toBeGreaterThan(1);
  });
});

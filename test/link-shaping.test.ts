/**
 * The registry link: a 4 MiB download through a 40 Mbit/s, 40 ms link takes what the link
 * allows (handshake, request and answer round trip, then size / bandwidth), with the kernel
 * shaping the rate (tc htb on loopback, as root) and with the proxy shaping it in userspace; and
 * closing the link leaves no qdisc, class, connection or listening port behind.
 */
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRegistryLink } from '../harness/cluster/link-shaping.js';
import { startShapingProxy } from '../harness/cluster/shaping-proxy.js';
import { loopbackShaping, tcUnavailableReason } from '../harness/cluster/tc-shaping.js';

const SIZE = 4 * 2 ** 20;
const BANDWIDTH = 40e6;
const RTT_MS = 40;
/** A fresh connection: handshake (1 RTT), request and first byte (1 RTT), then the bytes at the link rate. */
const EXPECTED_MS = 2 * RTT_MS + (SIZE * 8 * 1000) / BANDWIDTH;
/**
 * The link is the floor (tight lower bounds); above it a shared 2-core machine under load adds
 * scheduling delay to the proxy's timers, hence the looser upper bound.
 */
const SLOWEST = 2;
const payload = Buffer.alloc(SIZE, 7);
let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer((req, res) => {
    res.writeHead(200, { 'content-length': req.url === '/big' ? SIZE : 2 });
    res.end(req.url === '/big' ? payload : 'ok');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** GET over a new connection; resolves with the bytes received and the time taken. */
function download(address: string, path: string): Promise<{ bytes: number; ms: number }> {
  const [host, portText] = address.split(':');
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(portText), path, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ bytes, ms: performance.now() - start }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function refused(address: string): Promise<boolean> {
  const [host, portText] = address.split(':');
  return new Promise((resolve) => {
    const socket = connect(Number(portText), host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

function report(what: string, ms: number): void {
  process.stderr.write(`${what}: 4 MiB in ${ms.toFixed(0)} ms (link allows ${EXPECTED_MS.toFixed(0)} ms)\n`);
}

describe('registry link shaping', () => {
  const kernelUnavailable = tcUnavailableReason();

  it('a local link is the registry itself', async () => {
    const link = await openRegistryLink({ name: 'local', kind: 'local' }, { host: '127.0.0.1', port });
    expect(link.address).toBe(`127.0.0.1:${port}`);
    expect(link.method).toBe('none');
    await link.close();
  });

  it.skipIf(kernelUnavailable !== undefined && process.env.CI !== 'true')('shapes 40 Mbit/s with tc and adds 40 ms round trips with the proxy', async () => {
    if (kernelUnavailable !== undefined) throw new Error(`CI=true but kernel shaping is unavailable: ${kernelUnavailable}`);
    const link = await openRegistryLink({ name: 'wan', kind: 'shaped', bandwidthBitsPerSecond: BANDWIDTH, rttMs: RTT_MS }, { host: '127.0.0.1', port });
    try {
      expect(link.method).toBe('tc-htb+proxy');
      expect(await loopbackShaping()).toEqual({ rootQdisc: true, classes: 2 });
      const small = await download(link.address, '/small');
      expect(small.ms).toBeGreaterThanOrEqual(2 * RTT_MS - 1);
      const big = await download(link.address, '/big');
      report('tc htb + delay proxy', big.ms);
      expect(big.bytes).toBe(SIZE);
      expect(big.ms).toBeGreaterThan(EXPECTED_MS * 0.93);
      expect(big.ms).toBeLessThan(EXPECTED_MS * SLOWEST);
    } finally {
      await link.close();
    }
    expect(await loopbackShaping()).toEqual({ rootQdisc: false, classes: 0 });
    expect(await refused(link.address)).toBe(true);
  });

  it('shapes the bandwidth in userspace when the kernel does not', async () => {
    const proxy = await startShapingProxy({ upstream: { host: '127.0.0.1', port }, rttMs: RTT_MS, bandwidthBitsPerSecond: BANDWIDTH });
    const address = `${proxy.host}:${proxy.port}`;
    try {
      const big = await download(address, '/big');
      report('userspace proxy', big.ms);
      expect(big.bytes).toBe(SIZE);
      expect(big.ms).toBeGreaterThan(EXPECTED_MS * 0.97);
      expect(big.ms).toBeLessThan(EXPECTED_MS * SLOWEST);
      // Two downloads at once share the link: together they take twice as long.
      const both = await Promise.all([download(address, '/big'), download(address, '/big')]);
      const slowest = Math.max(...both.map((d) => d.ms));
      process.stderr.write(`userspace proxy, two at once: ${slowest.toFixed(0)} ms\n`);
      expect(slowest).toBeGreaterThan(2 * (EXPECTED_MS - 2 * RTT_MS) * 0.97);
    } finally {
      await proxy.close();
    }
    expect(proxy.connections()).toBe(0);
    expect(await refused(address)).toBe(true);
  });
});

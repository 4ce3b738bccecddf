/**
 * Server per session under churn: 10,000 sessions opened and closed in sequence, each with a
 * backend process of its own (a tiny sh server, so the test measures the proxy, not Node's
 * start-up), and not one process left behind, counted from /proc.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../runner/proxy/proxy.js';
import { descendantProcesses } from './support/agent-fixture.js';
import { post, TINY_SERVER } from './support/proxy-harness.js';

const SESSIONS = Number(process.env.PROXY_CHURN_SESSIONS ?? 10_000);
let proxy: RunningProxy | undefined;

afterAll(async () => {
  await proxy?.close();
});

const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'churn', version: '1' } } };

describe('per-session churn', () => {
  it(`opens and closes ${SESSIONS} sessions in sequence and leaves no backend process behind`, async () => {
    proxy = await startProxy({ strategy: 'per-session', backend: { kind: 'stdio', command: TINY_SERVER, args: [] } });
    const url = new URL(`${proxy.url}/mcp`);
    const started = performance.now();
    let peakProcesses = 0;
    for (let n = 0; n < SESSIONS; n += 1) {
      const opened = await post(url, initialize);
      const session = opened.headers.get('mcp-session-id');
      const answer = (await opened.json()) as { result?: { serverInfo?: { name?: string } } };
      if (opened.status !== 200 || session === null || answer.result?.serverInfo?.name !== 'mcp-tiny-server') {
        throw new Error(`session ${n}: initialize answered ${opened.status} ${JSON.stringify(answer)}`);
      }
      const closed = await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': session } });
      if (closed.status !== 204) throw new Error(`session ${n}: DELETE answered ${closed.status}`);
      if (n % 1000 === 999) peakProcesses = Math.max(peakProcesses, (await descendantProcesses()).length);
    }
    const elapsedMs = performance.now() - started;
    process.stderr.write(`per-session churn: ${SESSIONS} sessions in ${(elapsedMs / 1000).toFixed(1)} s (${(elapsedMs / SESSIONS).toFixed(2)} ms each)\n`);
    expect(proxy.metrics.snapshot()).toMatchObject({ backendStarts: SESSIONS, backends: 0, sessions: 0, backendCrashes: 0 });
    expect(peakProcesses).toBe(0);
    expect(await descendantProcesses()).toEqual([]);
  }, 600_000);
});

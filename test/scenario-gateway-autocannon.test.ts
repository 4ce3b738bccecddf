/**
 * gateway-load with `client: autocannon`, end to end: `mcpwarm bench run` on tiny scenarios whose
 * proxy (S-RARD) stands in front of a stdio server, measured for a second in each revision: with
 * the fixture server every answer is a result (rps > 0, no error, thresholds on rps met); with a
 * server that answers every other tools/list with an error, those 200 answers are counted as
 * errors and the errors threshold is missed. And autocannon on a session id the proxy never gave:
 * every 404 is counted. Nothing is left running.
 */
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateResults } from '../harness/results/build.js';
import { runAutocannonProcess } from '../harness/load/autocannon-process.js';
import { startProxy, type RunningProxy } from '../runner/proxy/proxy.js';
import { runCli } from './support/cli.js';
import { FIXTURE_SERVER } from './support/proxy-harness.js';
import { processesMentioning } from './support/processes.js';

const AUTOCANNON_CHILD = fileURLToPath(new URL('../harness/load/autocannon-child.ts', import.meta.url));

// Answers initialize, and tools/list with a result and an error in turn.
const FLAKY_SERVER = `n=0
while IFS= read -r line; do
  case $line in *'"id":'*) ;; *) continue ;; esac
  id=\${line#*\\"id\\":}
  id=\${id%%[,\\}]*}
  case $line in
    *'"method":"initialize"'*)
      printf '{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-11-25","capabilities":{"tools":{}},"serverInfo":{"name":"flaky","version":"1.0.0"}}}\\n' "$id" ;;
    *'"method":"tools/list"'*)
      n=$((n + 1))
      if [ $((n % 2)) -eq 0 ]; then printf '{"jsonrpc":"2.0","id":%s,"error":{"code":-32603,"message":"flaky"}}\\n' "$id"
      else printf '{"jsonrpc":"2.0","id":%s,"result":{"tools":[]}}\\n' "$id"; fi ;;
    *) printf '{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"method not found"}}\\n' "$id" ;;
  esac
done
`;

let dir: string;

function scenario(name: string, server: string[], thresholds: string[]): string {
  return [
    `name: ${name}`,
    'driver: gateway-load',
    `server: { command: ${JSON.stringify(server)} }`,
    'variants:',
    '  - { name: sessions, target: proxy, strategy: s-rard, client: autocannon, connections: 4 }',
    '  - { name: stateless, target: proxy, strategy: s-rard, client: autocannon, connections: 4, revision: "2026-07-28" }',
    'workload: { duration: 1s, warmup: 200ms }',
    'repetitions: 1',
    'warmup: 0',
    `thresholds: ${JSON.stringify(thresholds)}`,
  ].join('\n');
}

interface VariantFacts {
  operations: number;
  errors: Record<string, number>;
  metrics: Record<string, number>;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcpwarm-gateway-autocannon-'));
  // Copies in the test's directory, named by absolute paths, so that their processes are known by it.
  await copyFile(FIXTURE_SERVER, join(dir, 'fixture-server.mjs'));
  await writeFile(join(dir, 'flaky-server.sh'), FLAKY_SERVER);
  await writeFile(join(dir, 'fixture.scenario.yaml'), scenario('fixture', ['node', join(dir, 'fixture-server.mjs')], ['sessions: rps >= 1', 'stateless: rps >= 1', 'errors < 0.1%']));
  await writeFile(join(dir, 'flaky.scenario.yaml'), scenario('flaky', ['sh', join(dir, 'flaky-server.sh')], ['errors < 0.1%']));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function benchRun(file: string) {
  const result = await runCli(['bench', 'run', join(dir, file), '--out', join(dir, 'runs', file), '--json']);
  const document = validateResults(result.json, 'stdout');
  return { result, document, facts: (document.facts!.variants as Record<string, VariantFacts>) };
}

describe('gateway-load, client autocannon', () => {
  it('measures the proxy in both revisions: requests per second, every answer a result', async () => {
    const { result, document, facts } = await benchRun('fixture.scenario.yaml');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/sessions: closed loop, 4 connections x 1: \d+ req\/s \(mean of per-second samples; p50 \d+\), latency p50 \d+ ms, p99 \d+ ms \(autocannon, whole ms\), errors 0, timeouts 0/);
    expect(result.stderr).toMatch(/MET {4}sessions: rps: /);
    expect(document.variants.map((v) => v.name).sort()).toEqual(['sessions', 'stateless']);
    for (const id of ['sessions', 'stateless']) {
      const { metrics, errors, operations } = facts[id]!;
      expect(metrics.rps).toBeGreaterThan(0);
      expect(metrics.latency_p99).toBeGreaterThanOrEqual(metrics.latency_p50!);
      expect(metrics.errors).toBe(0);
      expect(errors).toEqual({});
      // Every answer is a sample: about a second's worth at the measured rate.
      expect(document.variants.find((v) => v.name === id)!.summaryMs.n).toBe(operations);
      expect(operations).toBeGreaterThan(metrics.rps! * 0.5);
    }
    expect(document.facts!.workload).toEqual(expect.arrayContaining([expect.stringMatching(/^sessions: tools\/list with autocannon, closed loop, 4 connections, 1 outstanding each, MCP 2025-11-25/)]));
  }, 120_000);

  it('counts error answers with a 200 as errors, and misses the errors threshold', async () => {
    const { result, facts } = await benchRun('flaky.scenario.yaml');
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/MISSED sessions: errors \(%\)/);
    for (const id of ['sessions', 'stateless']) {
      const { metrics, errors, operations } = facts[id]!;
      // Every other tools/list failed on the server: about half the answers.
      expect(errors['JSONRPC_-32603']).toBe(metrics.errors);
      expect(Math.abs(metrics.errors! / operations - 0.5)).toBeLessThan(0.05);
    }
  }, 120_000);

  describe('against a proxy in this process', () => {
    let proxy: RunningProxy;
    beforeAll(async () => {
      proxy = await startProxy({ strategy: 's-rard', backend: { kind: 'stdio', command: process.execPath, args: [join(dir, 'fixture-server.mjs')] } });
    });
    afterAll(() => proxy.close());

    it('counts the 404 of every request on a session the proxy does not know', async () => {
      const outcome = await runAutocannonProcess({
        url: `${proxy.url}/mcp`,
        call: { method: 'tools/list' },
        addressing: { revision: '2025-11-25', sessionId: 'no-such-session', protocolVersion: '2025-11-25' },
        connections: 2,
        pipelining: 1,
        durationMs: 1000,
      });
      expect(outcome.requestsPerSecond.mean).toBeGreaterThan(0);
      expect(outcome.answers.problems.length).toBeGreaterThan(0);
      expect(new Set(outcome.answers.problems)).toEqual(new Set(['HTTP_404']));
      expect(outcome.errors).toBe(outcome.answers.problems.length);
      expect(outcome.non2xx).toBe(outcome.errors);
    }, 60_000);
  });

  it('leaves no server and no autocannon process running', async () => {
    expect(await processesMentioning(dir)).toEqual([]);
    expect(await processesMentioning(AUTOCANNON_CHILD)).toEqual([]);
  });
});

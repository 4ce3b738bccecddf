/**
 * `mcpwarm bench strategies --quick` as a user runs it: every gateway (the proxy in each strategy,
 * supergateway in both modes) runs in front of the fixture server and is measured; the JSON holds
 * sane figures, the run directory is written, and no gateway or server is left running.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { processesMentioning } from './support/processes.js';

const GATEWAYS = ['s-rard', 'p-rard', 'per-session', 'supergateway-stateful', 'supergateway-stateless'];

interface Step {
  rate: number;
  figures: { scheduled: number; answered: number; achievedRate: number; errors: Record<string, number>; latencyMs: { p50: number; p99: number } };
  verdict: { sustained: boolean; reasons: string[] };
  servers: number;
  rssBytes: number;
  gatewayRssBytes: number;
}

interface Result {
  benchmark: string;
  machine: { cores: number; loadAverage1m: number };
  addedLatency: {
    rounds: number;
    callsPerTurn: number;
    clients: Array<{ client: string; mode: string; directMs: { n: number; p50: number }; via: Array<{ target: string; summaryMs: { n: number; p50: number }; addedP50Ms: number; low: number; high: number }> }>;
    notSampled: string[];
  };
  load: Array<{ tool: string; target: string; steps: Step[]; idle: { rssBytes: number } }>;
  targets: Array<{ name: string; measured: number | null; met: boolean }>;
}

const scratch = await mkdtemp(join(tmpdir(), 'mcpwarm-bench-strategies-test-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe('mcpwarm bench strategies --quick', () => {
  it('measures every gateway on the fixture server and leaves nothing running', async () => {
    const runs = join(scratch, 'runs');
    const cli = await runCli(['bench', 'strategies', '--quick', '--tools', 'slow', '--latency-rounds', '10', '--json', '--out-dir', runs]);
    expect(cli.code, cli.stderr).toBe(0);
    const result = cli.json as Result;
    expect(result.benchmark).toBe('strategies');
    expect(result.machine.cores).toBeGreaterThan(0);

    // Added latency, with lean and SDK clients: the direct calls and every gateway that does not start a server per request.
    const added = result.addedLatency;
    expect(added.clients.map((c) => `${c.client} ${c.mode}`)).toEqual(['lean after-idle', 'lean back-to-back', 'sdk after-idle', 'sdk back-to-back']);
    expect(added.notSampled).toEqual(['supergateway-stateless']);
    for (const { mode, directMs, via } of added.clients) {
      // 10 rounds: one call after idle and the rest of the turn back to back in each.
      const calls = mode === 'after-idle' ? 10 : 10 * (added.callsPerTurn - 1);
      expect(directMs.n).toBe(calls);
      expect(directMs.p50).toBeGreaterThan(0);
      expect(via.map((v) => v.target)).toEqual(GATEWAYS.slice(0, 4));
      for (const entry of via) {
        expect(entry.summaryMs.n).toBe(calls);
        expect(entry.summaryMs.p50).toBeGreaterThan(0);
        expect(entry.low).toBeLessThanOrEqual(entry.addedP50Ms);
        expect(entry.high).toBeGreaterThanOrEqual(entry.addedP50Ms);
      }
    }

    // Load: every gateway, fresh, with its steps' figures, servers and memory.
    expect(result.load.map((entry) => entry.target)).toEqual(GATEWAYS);
    for (const entry of result.load) {
      expect(entry.tool).toBe('slow');
      expect(entry.steps.length).toBeGreaterThanOrEqual(1);
      expect(entry.idle.rssBytes).toBeGreaterThan(0);
      for (const step of entry.steps) {
        expect(step.figures.scheduled).toBeGreaterThan(0);
        expect(step.gatewayRssBytes).toBeGreaterThan(0);
        expect(step.rssBytes).toBeGreaterThan(step.gatewayRssBytes);
        if (step.figures.answered > 0) expect(step.figures.latencyMs.p50).toBeGreaterThan(0);
        expect(step.verdict.sustained).toBe(step.verdict.reasons.length === 0);
      }
      // Every gateway ran the server at least once while it was loaded (stateless: a server per request).
      expect(Math.max(...entry.steps.map((step) => step.servers)), entry.target).toBeGreaterThanOrEqual(1);
    }
    const servers = (target: string) => Math.max(...result.load.find((entry) => entry.target === target)!.steps.map((step) => step.servers));
    expect(servers('s-rard')).toBe(1);
    expect(servers('p-rard')).toBe(4);
    // A server per MCP session (4 in a quick run).
    expect(servers('per-session')).toBeGreaterThanOrEqual(4);
    expect(servers('supergateway-stateful')).toBeGreaterThanOrEqual(4);

    // The added-latency targets (after idle, then back to back) and the P-RARD over S-RARD ratio (the fast-tool ratio needs the fast tool).
    expect(result.targets.map((t) => t.name)).toEqual([
      ...['after idle', 'back to back'].flatMap((when) =>
        ['s-rard', 'p-rard', 'per-session'].map((strategy) => expect.stringMatching(new RegExp(`^added p50 latency, proxy ${strategy} .*, ${when}`))),
      ),
      expect.stringMatching(/^p-rard \(4 backends\) over s-rard/),
    ]);
    expect(cli.stderr).toMatch(/work, 100 ms: the highest rate sustained/);

    const [run] = await readdir(runs);
    const written = JSON.parse(await readFile(join(runs, run!, 'results.json'), 'utf8')) as { benchmark: string; variants: Array<{ name: string }> };
    expect(written.benchmark).toBe('strategies');
    expect(written.variants.map((v) => v.name)).toEqual(expect.arrayContaining(['after-idle/lean/direct', 'back-to-back/sdk/s-rard']));

    // This checkout's gateways and servers only: another checkout may be benchmarking meanwhile.
    const repo = fileURLToPath(new URL('..', import.meta.url));
    expect((await processesMentioning('--bench-strategies-')).filter((p) => p.cmdline.includes(repo))).toEqual([]);
  }, 300_000);
});

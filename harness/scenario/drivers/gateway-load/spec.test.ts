import { describe, expect, it } from 'vitest';
import { planScenario } from '../../plan.js';
import { parseScenario } from '../../schema.js';

const server = { command: ['node', 'server.mjs'] };
const autocannonOnly = {
  name: 'g',
  driver: 'gateway-load',
  server,
  variants: [{ name: 'ac', target: 'proxy', strategy: 's-rard', client: 'autocannon' }],
  thresholds: ['ac: rps >= 1000', 'errors < 0.1%'],
};

function problems(document: unknown): Array<{ path: string; message: string }> {
  return parseScenario(document, 'g.scenario.yaml').problems;
}

describe('gateway-load spec, client autocannon', () => {
  it('needs neither an image nor the SDK ramp, and fills in its defaults', () => {
    const { scenario, problems: found } = parseScenario(autocannonOnly, 'g.yaml');
    expect(found).toEqual([]);
    expect(scenario!.spec).toEqual({
      server,
      variants: [{ name: 'ac', target: 'proxy', strategy: 's-rard', client: 'autocannon' }],
      workload: { pattern: 'constant', warmup: 0, duration: 10_000 },
    });
    expect(scenario!.thresholds[0]).toMatchObject({ variant: 'ac', metric: 'rps', comparison: '>=', value: 1000 });
    const plan = planScenario(scenario!, { quick: false });
    expect(plan.services).toEqual([{ kind: 'proxy', detail: 'stdio proxy for ac, strategy s-rard, over node server.mjs' }]);
    expect(plan.trialDescription.join('\n')).toMatch(/^ac: tools\/list with autocannon, closed loop, 16 connections, 1 outstanding each, MCP 2025-11-25, 10 s after 0 s not measured\n.*throughput, not comparable with open-loop latencies/);
  });

  it('takes connections, pipelining, the stateless revision and a duration', () => {
    const { scenario, problems: found } = parseScenario(
      { ...autocannonOnly, variants: [{ ...autocannonOnly.variants[0], connections: 4, pipelining: 2, revision: '2026-07-28' }], workload: { duration: '2s', warmup: '500ms' } },
      'g.yaml',
    );
    expect(found).toEqual([]);
    expect(scenario!.spec).toMatchObject({ variants: [{ connections: 4, pipelining: 2, revision: '2026-07-28' }], workload: { duration: 2000, warmup: 500 } });
  });

  it('reports every problem of a variant at once: a bad connections, a bad pipelining, an unknown key', () => {
    const found = problems({ ...autocannonOnly, variants: [{ ...autocannonOnly.variants[0], connections: 0, pipelining: 'many', colour: 'blue' }], workload: { duration: 'soon' } });
    expect(found).toEqual(
      expect.arrayContaining([
        { path: 'variants[0].connections', message: 'expected a number of connections from 1 to 10000' },
        { path: 'variants[0].pipelining', message: 'expected a number of requests outstanding per connection from 1 to 64' },
        { path: 'variants[0].colour', message: expect.stringMatching(/^unknown key \(expected one of: .*client, connections, pipelining, revision\)$/) },
        { path: 'workload.duration', message: 'expected a duration such as 500ms, 2s or 1m (more than zero)' },
      ]),
    );
    expect(found).toHaveLength(4);
  });

  it('refuses autocannon keys on an SDK variant, a duration under a second, an unknown revision or client', () => {
    const found = problems({
      ...autocannonOnly,
      variants: [
        { name: 'sdk', target: 'proxy', strategy: 's-rard', connections: 4, revision: '2026-07-28' },
        { name: 'ac', target: 'proxy', strategy: 's-rard', client: 'autocannon' },
      ],
      workload: { rates: [10], step: '1s', until: ['p99 < 1s'], duration: '500ms' },
    });
    expect(found).toEqual([
      { path: 'variants[0].connections', message: 'expected only with client autocannon' },
      { path: 'variants[0].revision', message: 'expected only with client autocannon' },
      { path: 'workload.duration', message: 'expected at least 1s: autocannon samples requests per second each second' },
    ]);
    expect(problems({ ...autocannonOnly, variants: [{ name: 'ac', target: 'proxy', strategy: 's-rard', client: 'wrk', revision: '2024' }] })).toEqual([
      { path: 'variants[0].client', message: 'expected a client: sdk, autocannon' },
      { path: 'variants[0].revision', message: 'expected an MCP revision: 2025-11-25, 2026-07-28' },
    ]);
  });

  it('still needs the ramp for an SDK variant, and the image for the agent and controller', () => {
    const found = problems({ ...autocannonOnly, variants: [{ name: 'a', target: 'agent' }], thresholds: [] });
    expect(found).toEqual([
      { path: 'image', message: 'expected the image the agent and controller targets serve' },
      { path: 'workload.rates', message: 'is required: the sdk client runs a ramp of rates (rates, step, until)' },
      { path: 'workload.step', message: 'is required: the sdk client runs a ramp of rates (rates, step, until)' },
      { path: 'workload.until', message: 'is required: the sdk client runs a ramp of rates (rates, step, until)' },
    ]);
  });
});

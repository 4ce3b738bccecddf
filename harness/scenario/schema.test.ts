import { describe, expect, it } from 'vitest';
import { parseScenario } from './schema.js';

const minimal = {
  name: 'tiny',
  driver: 'activation',
  images: [{ name: 'fixture', spec: 'images/fixture.image.yaml' }],
  variants: [{ name: 'cached', mode: 'agent-cached', image: 'fixture' }],
};

function problems(document: unknown): Array<{ path: string; message: string }> {
  return parseScenario(document, 'test.scenario.yaml').problems;
}

describe('parseScenario', () => {
  it('accepts a minimal scenario and fills in the defaults', () => {
    const { scenario, problems: found, inputs } = parseScenario(minimal, 'x.yaml');
    expect(found).toEqual([]);
    expect(scenario).toMatchObject({
      name: 'tiny',
      driver: 'activation',
      substrates: ['process'],
      links: [{ name: 'local', kind: 'local' }],
      repetitions: 5,
      warmup: 1,
      seed: 1,
      thresholds: [],
      spec: { sandbox: 'auto', variants: [{ name: 'cached', mode: 'agent-cached', image: 'fixture' }] },
    });
    expect(inputs.specFiles).toEqual([{ path: 'images[0].spec', file: 'images/fixture.image.yaml' }]);
  });

  it('reads shaped links, durations and thresholds into numbers', () => {
    const { scenario } = parseScenario(
      { ...minimal, registry: { links: ['local', { name: 'wan', bandwidth: '100mbit', rtt: '40ms' }] }, thresholds: ['cached/wan: p99 < 1.5s', 'errors < 0.1%'] },
      'x.yaml',
    );
    expect(scenario!.links[1]).toEqual({ name: 'wan', kind: 'shaped', bandwidthBitsPerSecond: 100e6, rttMs: 40 });
    expect(scenario!.thresholds).toEqual([
      { text: 'cached/wan: p99 < 1.5s', variant: 'cached/wan', metric: 'p99', comparison: '<', value: 1500 },
      { text: 'errors < 0.1%', metric: 'errors', comparison: '<', value: 0.001 },
    ]);
  });

  it('reports every problem at once, each with its field and what was expected', () => {
    const found = problems({
      ...minimal,
      name: 'Bad Name',
      colour: 'blue',
      repetitions: 0,
      registry: { links: ['local', { name: 'wan', bandwidth: 'fast', rtt: '40 parsecs' }] },
      thresholds: ['p99 is small'],
      variants: [
        { name: 'cached', mode: 'agent-cached', image: 'fixture' },
        { name: 'x', mode: 'teleport', image: 'fixture', extra: 1 },
      ],
    });
    const byPath = Object.fromEntries(found.map((p) => [p.path, p.message]));
    expect(byPath.name).toMatch(/expected a name of \[a-z0-9-\]/);
    expect(byPath.colour).toMatch(/unknown key \(expected one of: name, description, driver, .*variants, sandbox\)/);
    expect(byPath.repetitions).toMatch(/expected a number of repetitions from 1/);
    expect(byPath['registry.links[1].bandwidth']).toMatch(/expected a bandwidth such as 100mbit/);
    expect(byPath['registry.links[1].rtt']).toMatch(/expected a duration such as 500ms/);
    expect(byPath['thresholds[0]']).toMatch(/expected "\[VARIANT:\] METRIC OP VALUE"/);
    expect(byPath['variants[1].mode']).toMatch(/expected a mode: docker-cold, agent-uncached, agent-cached, hot, warm, seed/);
    expect(byPath['variants[1].extra']).toMatch(/unknown key \(expected one of: name, mode, image\)/);
    expect(found).toHaveLength(8);
  });

  it('checks the common keys even when the driver is unknown', () => {
    const found = problems({ ...minimal, driver: 'teleport', seed: 'x' });
    expect(found.map((p) => p.path).sort()).toEqual(['driver', 'seed']);
    expect(found.find((p) => p.path === 'driver')!.message).toBe('expected a driver: activation, pool, gateway-load, strategies, bench-image, bench-activation, bench-pool, bench-strategies');
  });

  it('checks the names a scenario refers to: images, variants in thresholds and quick, duplicates', () => {
    const found = problems({
      ...minimal,
      thresholds: ['nosuch: p50 < 10ms'],
      quick: { variants: ['nosuch'], links: ['wan'] },
      variants: [
        { name: 'cached', mode: 'agent-cached', image: 'other' },
        { name: 'cached', mode: 'hot', image: 'fixture' },
      ],
    });
    expect(found).toEqual(
      expect.arrayContaining([
        { path: 'variants', message: 'expected unique names (cached appears more than once)' },
        { path: 'variants[0].image', message: 'expected an image listed under images (fixture)' },
        { path: 'thresholds[0]', message: 'expected a variant of this scenario (cached, cached)' },
        { path: 'quick.variants[0]', message: 'expected a variant of this scenario (cached, cached)' },
        { path: 'quick.links[0]', message: 'expected a link of this scenario (local)' },
      ]),
    );
  });

  it('validates workloads: one of open or closed, one of duration or count, the pattern fields', () => {
    const pool = {
      name: 'p',
      driver: 'pool',
      images: [{ name: 'fixture', ref: '127.0.0.1:5000/x:1' }],
      image: 'fixture',
      variants: [{ name: 'small', size: 2, maxSize: 1 }],
    };
    const both = problems({ ...pool, workload: { open: { pattern: 'burst', size: 0, every: '1s' }, closed: { concurrency: 2 }, count: 3, duration: '1s' } });
    expect(both).toEqual(
      expect.arrayContaining([
        { path: 'workload', message: 'expected exactly one of open (arrival pattern) or closed (concurrency)' },
        { path: 'workload', message: 'expected exactly one of duration or count' },
        { path: 'workload.open.size', message: 'expected a burst size from 1 to 100000' },
        { path: 'variants[0].maxSize', message: 'expected at least size (2)' },
      ]),
    );
    const badPattern = problems({ ...pool, variants: [{ name: 'small', size: 2 }], workload: { open: { pattern: 'wave' }, count: 3 } });
    expect(badPattern).toEqual([{ path: 'workload.open.pattern', message: 'expected pattern: constant, poisson, burst or trace' }]);
  });

  it('validates quick.workload merged over the workload, under quick.', () => {
    const found = problems({
      name: 'g',
      driver: 'gateway-load',
      images: [{ name: 'fixture', spec: 'f.yaml' }],
      image: 'fixture',
      variants: [{ name: 'a', target: 'agent' }],
      workload: { rates: [10, 20], step: '1s', until: ['p99 < 500ms'] },
      quick: { workload: { rates: [20, 10] } },
    });
    expect(found).toEqual([{ path: 'quick.workload.rates[1]', message: 'expected rates in rising order' }]);
  });

  it('refuses images given by reference when a link is shaped (only the run\'s registry is behind a link)', () => {
    const found = problems({ ...minimal, images: [{ name: 'fixture', ref: 'docker.io/library/x:1' }], registry: { links: ['local', { name: 'wan', bandwidth: '10mbit', rtt: '50ms' }] } });
    expect(found).toEqual([{ path: 'images[0].ref', message: "expected spec: a shaped registry link carries only images pushed to the run's own registry" }]);
  });

  it('refuses a document that is not a mapping', () => {
    expect(problems(['a'])).toEqual([{ path: '(scenario)', message: 'expected a mapping of scenario keys' }]);
    expect(problems(null)).toHaveLength(1);
  });
});

describe('parseScenario, whole-run drivers (a benchmark run)', () => {
  const pool = { name: 'bp', driver: 'bench-pool', options: { rate: 3, server: 'fixture' }, thresholds: ['claim: p99 <= 5ms', 'side-by-side/hot: p99 <= 10ms'] };

  it('takes the benchmark\'s options, with the defaults of the others, and thresholds on its figures', () => {
    const { scenario, problems: found } = parseScenario(pool, 'bp.yaml');
    expect(found).toEqual([]);
    expect(scenario!.spec).toEqual({ options: { rate: 3, duration: 60, size: 4, holdMs: 1000, hot: 1, rounds: 10, warmupRounds: 1, runnerCountForRss: 20, server: 'fixture', seed: 1 } });
    expect(scenario!.thresholds.map((t) => t.variant)).toEqual(['claim', 'side-by-side/hot']);
  });

  it("reports every problem at once: keys about trials, types, unknown options, the benchmark's own checks, under their fields", () => {
    const found = problems({
      name: 'bp',
      driver: 'bench-pool',
      repetitions: 3,
      images: [],
      options: { rate: 0, size: 1.5, holdMs: 'long', server: 'nginx', colour: 'blue' },
      thresholds: ['claim: p99 <= 5ms'],
      quick: { warmup: 0, options: { rounds: 2 } },
    });
    expect(found).toEqual([
      { path: 'images', message: 'expected no images: driver bench-pool runs a whole benchmark, which sets up its own services and rounds (see its options)' },
      { path: 'repetitions', message: expect.stringMatching(/^expected no repetitions: driver bench-pool runs a whole benchmark/) },
      { path: 'quick.warmup', message: expect.stringMatching(/^expected no warmup: .*; quick.options sets its options$/) },
      { path: 'options.holdMs', message: 'expected milliseconds each activation is held' },
      { path: 'options.server', message: 'expected a server: fixture, everything' },
      { path: 'options.colour', message: 'unknown key (expected one of: rate, duration, size, holdMs, hot, rounds, warmupRounds, runnerCountForRss, server, seed)' },
      { path: 'options.rate', message: 'expected a positive number' },
      { path: 'options.size', message: 'expected a whole number >= 1' },
    ]);
  });

  it('checks quick.options merged over the options, and thresholds against the figures the benchmark reports', () => {
    expect(problems({ ...pool, quick: { options: { rounds: 0 } }, thresholds: ['nosuch: p50 < 1ms'] })).toEqual([
      { path: 'quick.options.rounds', message: 'expected a whole number >= 1' },
      {
        path: 'thresholds[0]',
        message:
          'expected a variant of this scenario (side-by-side/docker-cold, side-by-side/docker-cold-clean, side-by-side/warm, side-by-side/hot, open-loop/hot, open-loop/warm, open-loop/cold, open-loop/refill, open-loop/runner-start, warm-vs-docker-cold-clean, warm-vs-docker-cold, claim)',
      },
    ]);
  });

  it('merges overrides over the options and over quick.options, and checks them the same way', () => {
    const withQuick = { ...pool, quick: { options: { size: 3, rounds: 2 } } };
    const parsed = parseScenario(withQuick, 'bp.yaml', { options: { size: 5 } });
    expect(parsed.scenario!.spec).toMatchObject({ options: { rate: 3, size: 5, rounds: 10 } });
    expect(parsed.scenario!.quickSpec).toMatchObject({ options: { rate: 3, size: 5, rounds: 2 } });
    expect(parseScenario(withQuick, 'bp.yaml', { options: { size: 0 } }).problems).toEqual([{ path: 'options.size', message: 'expected a whole number >= 1' }]);
  });

  it('lists the image spec a benchmark builds among the files to check, and requires it', () => {
    const image = parseScenario({ name: 'bi', driver: 'bench-image', options: { spec: 'images/x.image.yaml' }, quick: { options: { spec: 'images/y.image.yaml', runs: 2 } } }, 'bi.yaml');
    expect(image.problems).toEqual([]);
    expect(image.inputs.specFiles).toEqual([
      { path: 'options.spec', file: 'images/x.image.yaml' },
      { path: 'quick.options.spec', file: 'images/y.image.yaml' },
    ]);
    expect(problems({ name: 'bi', driver: 'bench-image', options: { runs: 0 } })).toEqual([{ path: 'options.spec', message: expect.stringMatching(/^is required: expected an image spec file/) }]);
  });

  it('reads lists or comma-separated flags for bench-strategies, and its checks name the option', () => {
    const parsed = parseScenario({ name: 'bs', driver: 'bench-strategies', options: { strategies: ['p-rard'], supergateway: [], fastRates: [10, 20], preset: 'quick' } }, 'bs.yaml');
    expect(parsed.scenario!.spec).toEqual({ options: { strategies: 'p-rard', supergateway: 'none', fastRates: '10,20', preset: 'quick' } });
    expect(problems({ name: 'bs', driver: 'bench-strategies', options: { tools: 'fast,medium', backends: 0 } })).toEqual([{ path: 'options.tools', message: 'expected some of fast, slow, not medium' }]);
    expect(problems({ name: 'bs', driver: 'bench-strategies', options: { backends: 0, slowRates: '5,2' } })).toEqual([
      { path: 'options.backends', message: 'expected a whole number from 1 to 256, not 0' },
      { path: 'options.slowRates', message: 'expected rising positive rates, not 5,2' },
    ]);
  });
});

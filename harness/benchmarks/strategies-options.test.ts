import { describe, expect, it } from 'vitest';
import { isMcpWarmError } from '../../runner/errors.js';
import { strategiesSettings } from './strategies-options.js';
import { strategiesOptionProblems } from './strategies.js';

describe('strategiesSettings', () => {
  it('measures every strategy and supergateway mode on both tools by default', () => {
    const settings = strategiesSettings({});
    expect(settings.targets).toEqual(['s-rard', 'p-rard', 'per-session', 'supergateway-stateful', 'supergateway-stateless']);
    expect(settings.tools).toEqual(['fast', 'slow']);
    expect(settings).toMatchObject({ arrivals: 'poisson', retries: 1, backends: 4, sessions: 8, stepDurationMs: 1500, refineSteps: 2, p99BoundMs: { fast: 100, slow: 1000 } });
    expect(settings.ladders.fast[0]).toBe(50);
    expect(strategiesOptionProblems(settings)).toEqual([]);
  });

  it('takes lists, none, and explicit flags over the quick preset', () => {
    const settings = strategiesSettings({ quick: true, strategies: 'p-rard,s-rard', supergateway: 'none', tools: 'slow', slowRates: '2,4', stepDuration: 0.2, arrivals: 'constant' });
    expect(settings.targets).toEqual(['p-rard', 's-rard']);
    expect(settings.tools).toEqual(['slow']);
    expect(settings.ladders.slow).toEqual([2, 4]);
    expect(settings.stepDurationMs).toBe(200);
    expect(settings.arrivals).toBe('constant');
    expect(settings.refineSteps).toBe(0);
    expect(settings.retries).toBe(0);
    expect(settings.sessions).toBe(4);
  });

  it('refuses unknown names and bad rates with every problem at once', () => {
    let caught: unknown;
    try {
      strategiesSettings({ strategies: 'fastest', tools: 'fast,medium', arrivals: 'bursty', fastRates: '10,x' });
    } catch (error) {
      caught = error;
    }
    expect(isMcpWarmError(caught) && caught.code).toBe('USAGE_INVALID');
    expect((caught as { details: { problems: string[] } }).details.problems).toEqual([
      '--strategies: expected some of s-rard, p-rard, per-session (or none), not fastest',
      '--tools: expected some of fast, slow, not medium',
      '--arrivals: expected poisson or constant, not bursty',
      '--fast-rates: expected positive numbers separated by commas, not 10,x',
    ]);
  });

  it('finds the problems of settings the flags parse into', () => {
    const settings = { ...strategiesSettings({}), backends: 0, sessions: 1.5, targets: [], ladders: { fast: [100, 50], slow: [5] } };
    expect(strategiesOptionProblems(settings)).toEqual([
      '--strategies, --supergateway: nothing to measure',
      '--backends: expected a whole number from 1 to 256, not 0',
      '--sessions: expected a whole number from 1 to 1000, not 1.5',
      '--fast-rates: expected rising positive rates, not 100,50',
    ]);
  });
});

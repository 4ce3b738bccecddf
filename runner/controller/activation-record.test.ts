import { describe, expect, it } from 'vitest';
import type { InstanceInfo } from '../agent/instance.js';
import type { Runner } from '../substrates/types.js';
import { recoveredActivation, recoveryAction } from './activation-record.js';
import { ACTIVATION_ANNOTATION, IMAGE_ANNOTATION, TIER_ANNOTATION } from './claim.js';
import { ACTIVATION_STATE_ANNOTATION, CLAIMED_AT_ANNOTATION } from './reconcile-plan.js';

const claimedAnnotations = {
  [ACTIVATION_ANNOTATION]: 'a-0123456789ab',
  [IMAGE_ANNOTATION]: '127.0.0.1:5000/mcp/fixture:1',
  [CLAIMED_AT_ANNOTATION]: '2026-11-20T12:00:00.000Z',
};

function runner(overrides: Partial<Runner> = {}): Runner {
  return {
    id: 'runner-1',
    pool: 'p',
    state: 'claimed',
    phase: 'running',
    endpoint: 'http://127.0.0.1:40001',
    annotations: { ...claimedAnnotations, [ACTIVATION_STATE_ANNOTATION]: 'active', [TIER_ANNOTATION]: 'cold' },
    createdAt: '2026-11-20T11:00:00.000Z',
    version: '4',
    ...overrides,
  };
}

describe('recoveryAction', () => {
  it('recovers a client activation and re-shelves a hot one', () => {
    expect(recoveryAction(runner())).toBe('recover');
    expect(recoveryAction(runner({ annotations: { ...claimedAnnotations, [ACTIVATION_STATE_ANNOTATION]: 'shelved' } }))).toBe('shelve');
  });

  it('releases a claim that names no activation or an unknown state', () => {
    expect(recoveryAction(runner({ annotations: { [ACTIVATION_STATE_ANNOTATION]: 'active' } }))).toBe('release');
    expect(recoveryAction(runner({ annotations: { ...claimedAnnotations, [ACTIVATION_STATE_ANNOTATION]: 'something-else' } }))).toBe('release');
  });

  it('leaves warm, draining, gone and failed runners, and activations still being made, to the reconcile loop', () => {
    expect(recoveryAction(runner({ annotations: claimedAnnotations }))).toBe('ignore');
    expect(recoveryAction(runner({ state: 'warm' }))).toBe('ignore');
    expect(recoveryAction(runner({ state: 'draining' }))).toBe('ignore');
    expect(recoveryAction(runner({ phase: 'gone' }))).toBe('ignore');
    expect(recoveryAction(runner({ phase: 'failed' }))).toBe('ignore');
  });
});

describe('recoveredActivation', () => {
  it('rebuilds the activation from the annotations and the agent instance', () => {
    const instance = {
      instanceId: 'a-0123456789ab',
      endpoint: '/instances/a-0123456789ab/mcp',
      image: { ref: '127.0.0.1:5000/mcp/fixture:1', digest: 'sha256:abc' },
      phases: { resolveMs: 1, pullMs: 2, unpackMs: 3, mountMs: 4, startMs: 5, initializeMs: 6, totalMs: 21 },
      createdAt: '2026-11-20T12:00:01.000Z',
    } as InstanceInfo;
    expect(recoveredActivation(runner(), instance)).toEqual({
      activationId: 'a-0123456789ab',
      runner: 'runner-1',
      endpoint: '/activations/a-0123456789ab/mcp',
      runnerEndpoint: 'http://127.0.0.1:40001/instances/a-0123456789ab/mcp',
      tier: 'cold',
      image: instance.image,
      phases: instance.phases,
      attempts: 1,
      createdAt: '2026-11-20T12:00:00.000Z',
      recovered: true,
    });
    expect(recoveredActivation(runner({ annotations: { ...claimedAnnotations, [TIER_ANNOTATION]: 'bogus' } }), instance).tier).toBe('warm');
  });
});

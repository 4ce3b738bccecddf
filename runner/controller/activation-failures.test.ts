import { describe, expect, it } from 'vitest';
import { classifyActivationFailure, instanceVerdict } from './activation-failures.js';

describe('classifyActivationFailure', () => {
  it('calls a runner lost when its agent did not answer, whatever the phase says', () => {
    expect(classifyActivationFailure({ answered: false, runnerPhase: 'running' })).toBe('runner-lost');
    expect(classifyActivationFailure({ answered: false, code: 'IMAGE_NOT_FOUND', runnerPhase: 'running' })).toBe('runner-lost');
  });

  it('calls a runner lost when it turned gone or failed, or left the pool, even after an answer', () => {
    for (const runnerPhase of ['gone', 'failed', 'absent'] as const) {
      expect(classifyActivationFailure({ answered: true, code: 'INTERNAL', runnerPhase })).toBe('runner-lost');
    }
  });

  it('gives back the runner for refusals that come before anything of the image ran', () => {
    for (const code of ['IMAGE_NOT_FOUND', 'IMAGE_NOT_ALLOWED', 'ENTRYPOINT_NOT_FOUND', 'UNPACK_PATH_ESCAPE', 'REGISTRY_UNREACHABLE'] as const) {
      expect(classifyActivationFailure({ answered: true, code, runnerPhase: 'running' })).toBe('refused');
    }
  });

  it('counts a server that was started and failed, and anything unknown, as a used runner', () => {
    for (const code of ['SERVER_EXITED', 'SERVER_INIT_TIMEOUT', 'SERVER_PROTOCOL', 'SANDBOX_LAUNCH_FAILED', 'INTERNAL'] as const) {
      expect(classifyActivationFailure({ answered: true, code, runnerPhase: 'running' })).toBe('failed');
    }
    expect(classifyActivationFailure({ answered: true, runnerPhase: 'running' })).toBe('failed');
  });
});

describe('instanceVerdict', () => {
  it('keeps a running instance', () => {
    expect(instanceVerdict({ answered: true, status: 200, state: 'running' })).toBe('alive');
  });

  it('ends an activation whose server exited, is being taken down, or is no longer known', () => {
    expect(instanceVerdict({ answered: true, status: 200, state: 'exited' })).toBe('server-exited');
    expect(instanceVerdict({ answered: true, status: 200, state: 'stopping' })).toBe('server-exited');
    expect(instanceVerdict({ answered: true, status: 404 })).toBe('server-exited');
  });

  it('ends it when the runner refuses the connection, but not when it is only slow or answers oddly', () => {
    expect(instanceVerdict({ answered: false, timedOut: false })).toBe('runner-lost');
    expect(instanceVerdict({ answered: false, timedOut: true })).toBe('unknown');
    expect(instanceVerdict({ answered: true, status: 500 })).toBe('unknown');
    expect(instanceVerdict({ answered: true, status: 401 })).toBe('unknown');
  });
});

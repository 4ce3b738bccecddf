import { describe, expect, it } from 'vitest';
import { caught } from '../../test/support/caught.js';
import { activateTimeoutMs, AGENT_READINESS_TIMEOUT_MS, parseControllerActivationRequest } from './activation-request.js';

const parseError = (body: unknown) => caught(Promise.resolve().then(() => parseControllerActivationRequest(body)));

describe('parseControllerActivationRequest', () => {
  it('defaults to the hot tier and passes the agent fields through', () => {
    expect(parseControllerActivationRequest({ image: 'x/y:1', env: { A: 'b' } })).toEqual({ request: { image: 'x/y:1', env: { A: 'b' } }, tier: 'hot' });
  });

  it('takes tier apart from the agent request', () => {
    expect(parseControllerActivationRequest({ image: 'x/y:1', tier: 'warm' })).toEqual({ request: { image: 'x/y:1' }, tier: 'warm' });
    expect(parseControllerActivationRequest({ image: 'x/y:1', tier: 'hot' }).tier).toBe('hot');
  });

  it('lists a bad tier together with the problems of the other fields', async () => {
    const error = await parseError({ tier: 'cold', unknown: 1 });
    expect(error.code).toBe('REQUEST_INVALID');
    const fields = (error.details?.problems as Array<{ field: string }>).map((p) => p.field);
    expect(fields).toContain('tier');
    expect(fields).toContain('image');
    expect(fields).toContain('(body)');
  });

  it('refuses a body that is not an object the way the agent does', async () => {
    expect((await parseError([1])).code).toBe('REQUEST_INVALID');
    expect((await parseError(null)).code).toBe('REQUEST_INVALID');
  });
});

describe('activateTimeoutMs', () => {
  it("is the request's readiness timeout, else the agent's default, plus the grace", () => {
    expect(activateTimeoutMs({ image: 'x/y:1', readiness: { timeoutMs: 2000 } }, 5000)).toBe(7000);
    expect(activateTimeoutMs({ image: 'x/y:1' }, 5000)).toBe(AGENT_READINESS_TIMEOUT_MS + 5000);
    expect(activateTimeoutMs({ image: 'x/y:1', readiness: { toolsList: true } }, 0)).toBe(AGENT_READINESS_TIMEOUT_MS);
  });
});

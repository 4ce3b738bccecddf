import { describe, expect, it } from 'vitest';
import { McpWarmError } from '../../errors.js';
import { dockerSocketPath, engineCall, engineCallIfPresent, engineError } from './engine.js';

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`connect ${code} /x.sock`), { code });
}

function refused(statusCode: number, message: string): Error {
  return Object.assign(new Error(`(HTTP code ${statusCode}) ${message}`), { statusCode });
}

describe('engineError', () => {
  it('makes an engine that cannot be reached DOCKER_UNAVAILABLE, naming the socket', () => {
    for (const code of ['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EACCES']) {
      const error = engineError(errno(code), 'listing runner containers', '/run/x.sock');
      expect(error.code).toBe('DOCKER_UNAVAILABLE');
      expect(error.message).toBe(`no Docker engine answers on /run/x.sock (listing runner containers: ${code})`);
    }
  });

  it('makes a refusal by the engine SUBSTRATE_FAILED with its status and message', () => {
    const error = engineError(refused(404, 'no such image - No such image: mcpwarm-runner:x'), 'creating container c', '/run/x.sock');
    expect(error.code).toBe('SUBSTRATE_FAILED');
    expect(error.message).toContain('creating container c failed: (HTTP code 404) no such image');
    expect(error.details).toMatchObject({ status: 404 });
  });

  it('passes coded errors through', () => {
    const coded = new McpWarmError('USAGE_INVALID', 'x');
    expect(engineError(coded, 'x', '/s')).toBe(coded);
  });
});

describe('engineCall and engineCallIfPresent', () => {
  it('codes failures, and answers undefined for 404 and the statuses asked for', async () => {
    await expect(engineCall('/s', 'ping', () => Promise.reject(errno('ENOENT')))).rejects.toMatchObject({ code: 'DOCKER_UNAVAILABLE' });
    await expect(engineCall('/s', 'ping', () => Promise.resolve('OK'))).resolves.toBe('OK');
    await expect(engineCallIfPresent('/s', 'removing', () => Promise.reject(refused(404, 'gone')))).resolves.toBeUndefined();
    await expect(engineCallIfPresent('/s', 'inspecting', () => Promise.resolve({ Id: 'x' }))).resolves.toEqual({ Id: 'x' });
    await expect(engineCallIfPresent('/s', 'stopping', () => Promise.reject(refused(304, 'stopped')), [304])).resolves.toBeUndefined();
    await expect(engineCallIfPresent('/s', 'stopping', () => Promise.reject(refused(500, 'broken')), [304])).rejects.toMatchObject({ code: 'SUBSTRATE_FAILED' });
  });
});

describe('dockerSocketPath', () => {
  it('takes a unix:// DOCKER_HOST, else the default socket, and refuses other schemes', () => {
    expect(dockerSocketPath({})).toBe('/var/run/docker.sock');
    expect(dockerSocketPath({ DOCKER_HOST: 'unix:///tmp/d.sock' })).toBe('/tmp/d.sock');
    expect(() => dockerSocketPath({ DOCKER_HOST: 'tcp://10.0.0.1:2375' })).toThrow(expect.objectContaining({ code: 'USAGE_INVALID' }));
  });
});

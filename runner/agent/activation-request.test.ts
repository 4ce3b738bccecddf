import { describe, expect, it } from 'vitest';
import { McpWarmError } from '../errors.js';
import { parseActivationRequest, parseImageRequest } from './activation-request.js';

function problemsOf(body: unknown, parse: (body: unknown) => unknown = parseActivationRequest): Array<{ field: string; message: string }> {
  try {
    parse(body);
  } catch (error) {
    expect(error).toBeInstanceOf(McpWarmError);
    expect((error as McpWarmError).code).toBe('REQUEST_INVALID');
    return (error as McpWarmError).details!.problems as Array<{ field: string; message: string }>;
  }
  throw new Error('expected REQUEST_INVALID');
}

describe('parseActivationRequest', () => {
  it('accepts a full request', () => {
    const body = {
      image: '127.0.0.1:5000/mcp/fixture:1',
      entrypoint: ['/usr/local/bin/node'],
      command: ['/app/server.mjs'],
      env: { LOG_LEVEL: 'debug' },
      workingDir: '/app',
      instanceId: 'fixture-1',
      network: false,
      limits: { memoryMiB: 256, cpus: 0.5, pids: 64 },
      readiness: { toolsList: true, timeoutMs: 5000 },
    };
    expect(parseActivationRequest(body)).toEqual(body);
  });

  it('reports every problem at once, each with its field', () => {
    const problems = problemsOf({
      entrypoint: [],
      env: { 'BAD-NAME': 'x' },
      workingDir: 'relative',
      instanceId: 'Bad_Id',
      limits: { memoryMiB: 1, gpus: 1 },
      readiness: { timeoutMs: 'soon' },
      surprise: true,
    });
    const fields = problems.map((p) => p.field).sort();
    expect(fields).toEqual(
      ['(body)', 'entrypoint', 'env.BAD-NAME', 'image', 'instanceId', 'limits', 'limits.memoryMiB', 'readiness.timeoutMs', 'workingDir'].sort(),
    );
    expect(problems.find((p) => p.field === '(body)')!.message).toContain('surprise');
    expect(problems.find((p) => p.field === 'limits')!.message).toContain('gpus');
  });

  it.each([null, 'text', 42, []])('refuses %j as a body', (body) => {
    expect(problemsOf(body).length).toBeGreaterThan(0);
  });
});

describe('parseImageRequest', () => {
  it('accepts an image alone', () => {
    expect(parseImageRequest({ image: '127.0.0.1:5000/mcp/fixture:1' })).toEqual({ image: '127.0.0.1:5000/mcp/fixture:1' });
  });

  it('refuses activation fields and a missing image, each with its field', () => {
    const problems = problemsOf({ env: { A: 'b' } }, parseImageRequest);
    expect(problems.map((p) => p.field).sort()).toEqual(['(body)', 'image']);
    expect(problems.find((p) => p.field === '(body)')!.message).toContain('env');
  });
});

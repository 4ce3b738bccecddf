import { describe, expect, it } from 'vitest';
import { McpWarmError } from '../../errors.js';
import { agentFlags, listeningUrlIn, validateTemplate } from './agent-flags.js';

const where = { host: '0.0.0.0', port: 8080, cacheDir: '/var/lib/mcpwarm/cache', tokenFile: '/run/mcpwarm/token' };

describe('agentFlags', () => {
  it('passes where the agent listens and every template setting as --flag=value', () => {
    expect(agentFlags({ pool: 'p', token: 't', sandbox: 'bwrap', cacheBudget: '2Gi', allow: ['-weird', 'reg/*'], insecureRegistries: ['kind-registry:5000'] }, where)).toEqual([
      '--port=8080',
      '--host=0.0.0.0',
      '--cache=/var/lib/mcpwarm/cache',
      '--token-file=/run/mcpwarm/token',
      '--sandbox=bwrap',
      '--cache-size=2Gi',
      '--allow=-weird',
      '--allow=reg/*',
      '--insecure-registry=kind-registry:5000',
    ]);
  });

  it('leaves out what the template does not set, and never passes the token itself', () => {
    const flags = agentFlags({ pool: 'p', token: 'secret-token' }, where);
    expect(flags).toEqual(['--port=8080', '--host=0.0.0.0', '--cache=/var/lib/mcpwarm/cache', '--token-file=/run/mcpwarm/token']);
    expect(flags.join(' ')).not.toContain('secret-token');
  });
});

describe('validateTemplate', () => {
  it('accepts label-safe pools and plain tokens', () => {
    expect(() => validateTemplate({ pool: 'pool-a.b_c', token: 'abc' })).not.toThrow();
  });

  it('lists every problem in one USAGE_INVALID', () => {
    let error: unknown;
    try {
      validateTemplate({ pool: 'bad pool/..', token: 'two words' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(McpWarmError);
    expect((error as McpWarmError).code).toBe('USAGE_INVALID');
    expect((error as McpWarmError).details?.problems).toHaveLength(2);
  });
});

describe('listeningUrlIn', () => {
  it('finds the URL the agent printed, or nothing yet', () => {
    expect(listeningUrlIn('starting\n')).toBeUndefined();
    expect(listeningUrlIn('agent listening on http://127.0.0.1:41234 (sandbox bwrap)\n')).toBe('http://127.0.0.1:41234');
    expect(listeningUrlIn('agent listening on http://0.0.0.0:8080 (sandbox chroot)')).toBe('http://0.0.0.0:8080');
  });
});

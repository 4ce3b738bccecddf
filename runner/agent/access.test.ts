import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bearerMatches, checkAuthSetup, ImageAllowlist, loadToken } from './access.js';

describe('bearerMatches', () => {
  it.each([
    ['Bearer s3cret', true],
    ['bearer s3cret', true],
    ['Bearer  s3cret ', true],
    ['Bearer s3cret2', false],
    ['Bearer s3cre', false],
    ['Basic s3cret', false],
    ['s3cret', false],
    ['Bearer ', false],
    [undefined, false],
  ])('%j -> %s', (header, expected) => {
    expect(bearerMatches(header, 's3cret')).toBe(expected);
  });
});

describe('checkAuthSetup', () => {
  it('accepts a token on any host', () => expect(() => checkAuthSetup('t', false, '0.0.0.0')).not.toThrow());
  it('refuses no token without --insecure-no-auth', () =>
    expect(() => checkAuthSetup(undefined, false, '127.0.0.1')).toThrowError(expect.objectContaining({ code: 'AUTH_MISCONFIGURED' })));
  it.each(['127.0.0.1', 'localhost', '::1'])('allows --insecure-no-auth on %s', (host) => expect(() => checkAuthSetup(undefined, true, host)).not.toThrow());
  it.each(['0.0.0.0', '10.0.0.5', '::'])('refuses --insecure-no-auth on %s', (host) =>
    expect(() => checkAuthSetup(undefined, true, host)).toThrowError(expect.objectContaining({ code: 'AUTH_MISCONFIGURED' })));
});

describe('loadToken', () => {
  it('reads a token file, trimmed, before the environment', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcpwarm-token-'));
    try {
      await writeFile(join(dir, 't'), 'from-file\n');
      expect(await loadToken(join(dir, 't'), { MCPWARM_TOKEN: 'from-env' })).toBe('from-file');
      expect(await loadToken(undefined, { MCPWARM_TOKEN: 'from-env' })).toBe('from-env');
      expect(await loadToken(undefined, {})).toBeUndefined();
      await writeFile(join(dir, 'empty'), '  \n');
      await expect(loadToken(join(dir, 'empty'))).rejects.toMatchObject({ code: 'AUTH_MISCONFIGURED' });
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});

describe('ImageAllowlist', () => {
  const digest = `sha256:${'a'.repeat(64)}`;
  const list = new ImageAllowlist(['127.0.0.1:5000/mcp/*', 'docker.io/library/**', digest, 'oci:/srv/images/**']);

  it.each([
    '127.0.0.1:5000/mcp/fixture:1',
    '127.0.0.1:5000/mcp/everything@sha256:' + 'b'.repeat(64),
    'node:20',
    `ghcr.io/other/thing@${digest}`,
    'oci:/srv/images/fixture:1',
  ])('allows %s', (image) => expect(() => list.check(image)).not.toThrow());

  it.each(['127.0.0.1:5000/mcp/nested/deep:1', '127.0.0.1:5001/mcp/fixture:1', 'ghcr.io/other/thing:1', 'oci:/tmp/x:1'])(
    'refuses %s with IMAGE_NOT_ALLOWED',
    (image) => expect(() => list.check(image)).toThrowError(expect.objectContaining({ code: 'IMAGE_NOT_ALLOWED' })),
  );

  it('refuses an invalid reference as such', () => {
    expect(() => list.check('Bad//Ref')).toThrowError(expect.objectContaining({ code: 'REF_INVALID' }));
  });

  it('allows everything when empty', () => expect(() => new ImageAllowlist([]).check('anything/at:all')).not.toThrow());
});

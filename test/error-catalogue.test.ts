import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, McpWarmError } from '../runner/errors.js';

describe('error catalogue', () => {
  it('documents every code in the README table', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const undocumented = Object.keys(ERROR_CATALOGUE).filter((code) => !readme.includes(`| \`${code}\` |`));
    expect(undocumented).toEqual([]);
  });

  it('gives every error its code, hint, exit status and HTTP status', () => {
    const error = new McpWarmError('REF_INVALID', 'bad');
    expect(error.toJSON()).toEqual({ code: 'REF_INVALID', message: 'bad', hint: ERROR_CATALOGUE.REF_INVALID.hint });
    expect(error.exitCode).toBe(2);
    expect(error.httpStatus).toBe(400);
  });
});

import { realpath } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { findExecutable } from '../../exec.js';
import { IMAGE_NODE_PATH, nodeRuntimeEntries } from './node-runtime.js';

describe('nodeRuntimeEntries', () => {
  it.skipIf(!findExecutable('ldd') && process.env.CI !== 'true')('collects the running node, its libraries and /usr/local/bin/node', async () => {
    const entries = await nodeRuntimeEntries();
    const binary = await realpath(process.execPath);
    const paths = entries.map((entry) => entry.path);
    expect(entries.find((entry) => entry.path === binary)).toMatchObject({ type: 'file', mode: 0o755 });
    expect(paths).toContain(IMAGE_NODE_PATH);
    expect(paths.some((path) => /\/ld-(linux|musl)[^/]*\.so/.test(path))).toBe(true);
    expect(paths.some((path) => /\/libc\.so|ld-musl/.test(path))).toBe(true);
  });
});

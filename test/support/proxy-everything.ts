/**
 * @modelcontextprotocol/server-everything as a runnable stdio server for proxy tests: the image's
 * pinned npm project (scenarios/images/npm/everything) installed once per lockfile into a cache
 * directory, with the image builder's own `npm ci` step, then reused.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { npmLayerEntries } from '../../runner/oci/build/npm-layer.js';

const PROJECT = fileURLToPath(new URL('../../scenarios/images/npm/everything', import.meta.url));
const ENTRY = 'node_modules/@modelcontextprotocol/server-everything/dist/index.js';

/** The command that runs server-everything over stdio. */
export async function everythingCommand(): Promise<{ command: string; args: string[] }> {
  const lock = await readFile(join(PROJECT, 'package-lock.json'));
  const dir = join(tmpdir(), `mcpwarm-everything-${createHash('sha256').update(lock).digest('hex').slice(0, 16)}`);
  if (!existsSync(join(dir, ENTRY))) {
    const work = await mkdtemp(join(tmpdir(), 'mcpwarm-everything-install-'));
    try {
      await npmLayerEntries(PROJECT, '/app', work);
      // Renamed into place whole, so a half-done install is never taken for a cached one.
      await rename(work, dir);
    } catch (error) {
      await rm(work, { recursive: true, force: true });
      if (!existsSync(join(dir, ENTRY))) throw error;
    }
  }
  return { command: process.execPath, args: [join(dir, ENTRY), 'stdio'] };
}

import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where mcpwarm keeps its state unless told otherwise: $MCPWARM_HOME, else ~/.mcpwarm. */
export function mcpwarmHome(): string {
  return process.env.MCPWARM_HOME ?? join(homedir(), '.mcpwarm');
}

export function defaultCacheDir(): string {
  return join(mcpwarmHome(), 'cache');
}

export function defaultRegistryDir(port: number): string {
  return join(mcpwarmHome(), `registry-${port}`);
}

/** Log and pid file of a dockerd that mcpwarm started. */
export function defaultDockerdDir(): string {
  return join(mcpwarmHome(), 'dockerd');
}

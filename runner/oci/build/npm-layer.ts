/**
 * An npm project's production dependencies as layer entries: `npm ci` of its package.json and
 * package-lock.json in a work directory (lifecycle scripts off, so nothing host-specific is built),
 * then node_modules and package.json placed under the spec's `to`.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { requireExecutable, run } from '../../exec.js';
import { hostTreeEntries, type LayerEntry } from './layers.js';

const NPM_CI_ARGS = ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'] as const;

/** Installs `project` into `workDir` (created here; the caller removes it once the layer is written). */
export async function npmLayerEntries(project: string, to: string, workDir: string): Promise<LayerEntry[]> {
  const npm = requireExecutable('npm', 'npm');
  await mkdir(workDir, { recursive: true });
  await copyFile(join(project, 'package.json'), join(workDir, 'package.json'));
  await copyFile(join(project, 'package-lock.json'), join(workDir, 'package-lock.json'));
  await run(npm, [...NPM_CI_ARGS], {
    cwd: workDir,
    env: { ...process.env, npm_config_update_notifier: 'false', npm_config_loglevel: 'warn' },
  });
  const packageJson: LayerEntry = { type: 'file', path: posix.join(to, 'package.json'), mode: 0o644, uid: 0, gid: 0, content: { hostPath: join(workDir, 'package.json') } };
  // A project without dependencies gets no node_modules.
  const modules = join(workDir, 'node_modules');
  return existsSync(modules) ? [packageJson, ...(await hostTreeEntries(modules, posix.join(to, 'node_modules')))] : [packageJson];
}

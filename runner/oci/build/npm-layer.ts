/**
 * An npm project's production dependencies as layer entries, with its package.json, under the
 * spec's `to`: either `npm ci` of its package.json and package-lock.json in a work directory
 * (lifecycle scripts off, so nothing host-specific is built), or, for `installed: true`, the
 * production packages already installed in the project's own node_modules, as `npm ls --omit=dev`
 * lists them (no network, and the very versions the project runs with).
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
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

/**
 * The package directories to copy from `npm ls --parseable` output: those inside `modulesDir`,
 * outermost only (a package's own nested node_modules comes with it), sorted.
 */
export function outermostPackageDirs(listed: readonly string[], modulesDir: string): string[] {
  const inside = [...new Set(listed.map((line) => line.trim()).filter((path) => path.startsWith(modulesDir + sep)))].sort();
  return inside.filter((path) => !inside.some((other) => path.startsWith(other + sep)));
}

/** The production packages installed in `project`'s node_modules, and its package.json, under `to`. */
export async function installedPackagesEntries(project: string, to: string): Promise<LayerEntry[]> {
  const npm = requireExecutable('npm', 'npm');
  const listed = await run(npm, ['ls', '--omit=dev', '--all', '--parseable'], { cwd: project, env: { ...process.env, npm_config_loglevel: 'error' } });
  const modulesDir = join(project, 'node_modules');
  const entries: LayerEntry[] = [{ type: 'file', path: posix.join(to, 'package.json'), mode: 0o644, uid: 0, gid: 0, content: { hostPath: join(project, 'package.json') } }];
  for (const dir of outermostPackageDirs(listed.split('\n'), modulesDir)) {
    entries.push(...(await hostTreeEntries(dir, posix.join(to, 'node_modules', ...relative(modulesDir, dir).split(sep)))));
  }
  return entries;
}

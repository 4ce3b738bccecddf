/**
 * runc: the server in its own pid, mount, ipc, uts and (unless asked for network) network
 * namespaces, with runc's default mounts, masked paths and device rules, its cgroup limits applied
 * by runc. `runc run` stays in the foreground without a terminal, so the server's stdio are
 * runc's pipes; its host pid comes from runc's pid file, which runc writes once the container is
 * set up and the server is being started (a program that then fails to execute, such as a script
 * whose interpreter is missing, shows as an early exit with runc's message on stderr). runc's state
 * lives under a root of its own (RUNC_STATE_ROOT), so what mcpwarm started can be listed and
 * nothing else is touched.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { McpWarmError } from '../../errors.js';
import { CommandError, findExecutable, requireExecutable, run } from '../../exec.js';
import { LaunchCgroup, hostCgroupPlacements, launchCgroupDirs } from '../cgroup.js';
import { resolveEntrypoint } from '../image-user.js';
import { envPath, envRecord, launchWith, pollFor, type StopSignal } from '../process.js';
import type { LaunchSpec, Sandbox, SandboxAvailability, SandboxedProcess } from '../types.js';
import { runtimeSpec } from './runtime-spec.js';

export const RUNC_STATE_ROOT = '/run/mcpwarm-runc';

function isMissingContainer(error: unknown): boolean {
  return error instanceof CommandError && /does not exist/.test(error.output);
}

async function readPidFile(path: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(path, 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined; // not written yet
  }
}

export class RuncSandbox implements Sandbox {
  readonly name = 'runc';
  readonly strength = 4;

  constructor(readonly stateRoot: string = RUNC_STATE_ROOT) {}

  async probe(): Promise<SandboxAvailability> {
    const runc = findExecutable('runc');
    if (runc === undefined) return { available: false, reason: 'runc is not installed (apt-get install runc)' };
    if (process.getuid?.() !== 0) return { available: false, reason: 'runc needs root here (rootless containers are not set up)' };
    if (hostCgroupPlacements().length === 0) return { available: false, reason: 'no memory, cpu or pids cgroup hierarchy is mounted' };
    try {
      await run(runc, ['--version']);
    } catch (error) {
      return { available: false, reason: `runc does not run: ${(error as Error).message}` };
    }
    return { available: true };
  }

  /**
   * The ids of the containers in this sandbox's state root. Several agents on one host share the
   * root, and `runc list` fails when a container another agent removes vanishes while it reads the
   * root: that race is retried, any other failure is not.
   */
  async containers(): Promise<string[]> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const listed = JSON.parse((await run(this.runc(), ['--root', this.stateRoot, 'list', '--format', 'json'])) || 'null') as Array<{ id: string }> | null;
        return (listed ?? []).map((container) => container.id);
      } catch (error) {
        if (attempt >= 5 || !(error instanceof CommandError && /no such file or directory/.test(error.message))) throw error;
      }
    }
  }

  launch(spec: LaunchSpec): Promise<SandboxedProcess> {
    return launchWith('runc', spec, async (cleanup) => {
      const runc = this.runc();
      await resolveEntrypoint(spec.rootfs, spec.argv[0]!, envPath(envRecord(spec.env)), spec.cwd);
      const bundle = join(spec.workDir, 'bundle');
      // Not recursive: an existing bundle belongs to someone else and must not be cleaned up as ours.
      await mkdir(bundle, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
        throw new McpWarmError('SANDBOX_LAUNCH_FAILED', `cannot create the runc bundle ${bundle}: ${error.message}`, { cause: error });
      });
      cleanup.push('runc bundle', () => rm(bundle, { recursive: true, force: true }));
      // The environment may hold secrets: the config is for root's eyes only.
      await writeFile(join(bundle, 'config.json'), JSON.stringify(runtimeSpec(spec), null, 2), { mode: 0o600 });
      if ((await this.containers()).includes(spec.id)) {
        throw new McpWarmError('SANDBOX_LAUNCH_FAILED', `a runc container named ${spec.id} already exists in ${this.stateRoot}`, { details: { id: spec.id } });
      }
      cleanup.push('runc cgroups', () => new LaunchCgroup(launchCgroupDirs(spec.id)).remove());
      cleanup.push('runc container', () => this.deleteContainer(spec.id));
      const pidFile = join(bundle, 'container.pid');
      return {
        command: [runc, '--root', this.stateRoot, 'run', '--bundle', bundle, '--pid-file', pidFile, spec.id],
        env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
        cwd: bundle,
        started: (_child, _pid, signal) => pollFor(() => readPidFile(pidFile), signal),
        signal: (_pid, _child, signal) => this.kill(spec.id, signal),
      };
    });
  }

  private runc(): string {
    return requireExecutable('runc', 'runc');
  }

  private async kill(id: string, signal: StopSignal): Promise<void> {
    try {
      await run(this.runc(), ['--root', this.stateRoot, 'kill', id, signal.replace(/^SIG/, '')]);
    } catch (error) {
      // Stopped already: `runc run` deletes its container as soon as the server exits.
      if (!isMissingContainer(error) && !(error instanceof CommandError && /not running|stopped/.test(error.output))) throw error;
    }
  }

  async sweep(ids: readonly string[]): Promise<void> {
    const running = new Set(await this.containers());
    for (const id of ids) if (running.has(id)) await this.deleteContainer(id);
  }

  /** Removes the container (killing what is left of it); one that is gone already is fine. */
  private async deleteContainer(id: string): Promise<void> {
    try {
      await run(this.runc(), ['--root', this.stateRoot, 'delete', '--force', id]);
    } catch (error) {
      if (!isMissingContainer(error)) throw error;
    }
  }
}

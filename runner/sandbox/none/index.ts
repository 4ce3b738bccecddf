/**
 * none: the command runs on the host as it is, as the spec's user and with the spec's environment
 * and limits, but without any isolation; the rootfs is only its working directory when the spec's
 * cwd does not exist on the host. For trusted commands, and the bare-spawn baseline of benchmarks.
 */
import { stat } from 'node:fs/promises';
import { McpWarmError } from '../../errors.js';
import { requireExecutable } from '../../exec.js';
import { cgroupAttachedCommand, createLaunchCgroup, sweepLaunchCgroups } from '../cgroup.js';
import { resolveEntrypoint } from '../image-user.js';
import { envPath, envRecord, launchWith, setprivArgs, signalPid, waitPastWrappers } from '../process.js';
import type { LaunchSpec, Sandbox, SandboxAvailability, SandboxedProcess } from '../types.js';

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** `spec.argv` as the spec's user: through setpriv as root, as is when this process is that user already. */
function asUser(spec: LaunchSpec): string[] {
  if (process.getuid?.() === 0) return [requireExecutable('setpriv', 'util-linux'), ...setprivArgs(spec.user, { uid: true }), ...spec.argv];
  if (spec.user.uid === process.getuid?.() && spec.user.gid === process.getgid?.()) return spec.argv;
  throw new McpWarmError('SANDBOX_LAUNCH_FAILED', `the none sandbox can run as uid ${spec.user.uid} only when the agent runs as root or as that user`, {
    details: { user: spec.user },
  });
}

export class NoneSandbox implements Sandbox {
  readonly name = 'none';
  readonly strength = 1;

  sweep(ids: readonly string[]): Promise<void> {
    return sweepLaunchCgroups(ids);
  }

  async probe(): Promise<SandboxAvailability> {
    return { available: true };
  }

  launch(spec: LaunchSpec): Promise<SandboxedProcess> {
    return launchWith('none', spec, async (cleanup) => {
      const env = envRecord(spec.env);
      const cwd = (await isDirectory(spec.cwd)) ? spec.cwd : spec.rootfs;
      await resolveEntrypoint('/', spec.argv[0]!, envPath(env), cwd);
      const userCommand = asUser(spec);
      const cgroup = await createLaunchCgroup(spec.id, spec.limits);
      if (cgroup) cleanup.push('cgroup', () => cgroup.remove());
      const command = cgroup ? cgroupAttachedCommand(cgroup, env, userCommand) : userCommand;
      // Before it runs the server, the process runs the cgroup-joining shell and setpriv, where used.
      const wrapperStages = [command, userCommand].filter((stage) => stage !== spec.argv);
      return {
        command,
        env,
        cwd,
        started: (_child, pid, signal) => waitPastWrappers(pid, wrapperStages, signal),
        signal: (pid, _child, signal) => signalPid(pid, signal),
      };
    });
  }
}

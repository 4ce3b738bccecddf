/**
 * chroot: what the warm-pool write-up does - the server with the rootfs as its root directory, as
 * the image's user, and nothing else: no namespaces (it sees the host's processes and network,
 * and a root server can leave the chroot), no /proc and no device nodes but what the image has,
 * limits through the launch's cgroup.
 *
 * `unshare --root --wd --setuid` changes root, directory and user; its --setgid would also drop the
 * supplementary groups, so the gid and groups are set before it by setpriv (uid still root, which
 * the chroot needs), and unshare only changes the uid.
 */
import { findExecutable, requireExecutable } from '../../exec.js';
import { cgroupAttachedCommand, createLaunchCgroup, sweepLaunchCgroups } from '../cgroup.js';
import { resolveEntrypoint } from '../image-user.js';
import { envPath, envRecord, launchWith, setprivArgs, signalPid, waitPastWrappers } from '../process.js';
import type { LaunchSpec, Sandbox, SandboxAvailability, SandboxedProcess } from '../types.js';

export class ChrootSandbox implements Sandbox {
  readonly name = 'chroot';
  readonly strength = 2;

  sweep(ids: readonly string[]): Promise<void> {
    return sweepLaunchCgroups(ids);
  }

  async probe(): Promise<SandboxAvailability> {
    if (findExecutable('unshare') === undefined || findExecutable('setpriv') === undefined) {
      return { available: false, reason: 'unshare and setpriv are not installed (apt-get install util-linux)' };
    }
    if (process.getuid?.() !== 0) return { available: false, reason: 'chroot needs root' };
    return { available: true };
  }

  launch(spec: LaunchSpec): Promise<SandboxedProcess> {
    return launchWith('chroot', spec, async (cleanup) => {
      const [setpriv, unshare] = [requireExecutable('setpriv', 'util-linux'), requireExecutable('unshare', 'util-linux')];
      const env = envRecord(spec.env);
      await resolveEntrypoint(spec.rootfs, spec.argv[0]!, envPath(env), spec.cwd);
      const cgroup = await createLaunchCgroup(spec.id, spec.limits);
      if (cgroup) cleanup.push('cgroup', () => cgroup.remove());
      const unshareStage = [unshare, `--root=${spec.rootfs}`, `--wd=${spec.cwd}`, `--setuid=${spec.user.uid}`, '--', ...spec.argv];
      const setprivStage = [setpriv, ...setprivArgs(spec.user, { uid: false }), ...unshareStage];
      const command = cgroup ? cgroupAttachedCommand(cgroup, env, setprivStage) : setprivStage;
      return {
        command,
        env,
        cwd: '/',
        started: (_child, pid, signal) => waitPastWrappers(pid, [command, setprivStage, unshareStage], signal),
        signal: (pid, _child, signal) => signalPid(pid, signal),
      };
    });
  }
}

/**
 * chroot: what the warm-pool write-up does - the server with the rootfs as its root directory, as
 * the image's user, and nothing else: no namespaces (it sees the host's processes and network,
 * and a root server can leave the chroot), limits through the launch's cgroup.
 *
 * `unshare --root --wd --setuid` changes root, directory and user; its --setgid would also drop the
 * supplementary groups, so the gid and groups are set before it by setpriv (uid still root, which
 * the chroot needs), and unshare only changes the uid.
 */
import { realpath } from 'node:fs/promises';
import { findExecutable, requireExecutable } from '../../exec.js';
import { cgroupAttachedCommand, createLaunchCgroup } from '../cgroup.js';
import { resolveEntrypoint } from '../image-user.js';
import { envPath, envRecord, launchWith, setprivArgs, signalPid, waitForExec } from '../process.js';
import type { LaunchSpec, Sandbox, SandboxAvailability, SandboxedProcess } from '../types.js';

export class ChrootSandbox implements Sandbox {
  readonly name = 'chroot';
  readonly strength = 2;

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
      // The server's /proc/<pid>/exe lies below the canonical rootfs once it runs.
      const root = await realpath(spec.rootfs);
      const cgroup = await createLaunchCgroup(spec.id, spec.limits);
      if (cgroup) cleanup.push('cgroup', () => cgroup.remove());
      const command = [
        setpriv,
        ...setprivArgs(spec.user, { uid: false }),
        unshare,
        `--root=${root}`,
        `--wd=${spec.cwd}`,
        `--setuid=${spec.user.uid}`,
        '--',
        ...spec.argv,
      ];
      return {
        command: cgroup ? cgroupAttachedCommand(cgroup, env, command) : command,
        env,
        cwd: '/',
        started: (_child, pid, signal) => waitForExec(pid, (exe) => exe.startsWith(`${root}/`), signal),
        signal: (pid, _child, signal) => signalPid(pid, signal),
      };
    });
  }
}

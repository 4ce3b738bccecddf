/**
 * bubblewrap: the server in its own pid, ipc, uts, cgroup and (unless asked for network) network
 * namespaces, with the rootfs bound as `/` and fresh /proc and /dev (the image's own /tmp is used,
 * as runc does: the rootfs is writable).
 *
 * The image's user: bwrap can only change ids inside a user namespace that maps them onto the
 * caller's, so a non-root server is started by dropping to its uid, gid and groups on the host
 * (setpriv) before bwrap, which then runs unprivileged in a user namespace that maps the uid to
 * itself. The server's real host uid is the image's uid (as under runc), its supplementary groups
 * apply on the host but show as the overflow group inside; the rootfs path must be reachable by
 * that uid. A root server runs without a user namespace, with runc's minimal capability set.
 *
 * The launch is done once the sandbox is set up and the server forked (a program that then fails
 * to execute shows as an early exit with bwrap's message on stderr).
 *
 * bwrap has no cgroups: the launch's cgroup (cgroup.ts) is joined before bwrap starts. bwrap's
 * options, environment included, are passed on fd 3 (--args), not on its command line, where any
 * host user could read them for as long as it runs.
 */
import type { ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { findExecutable, requireExecutable, run } from '../../exec.js';
import { cgroupAttachedCommand, createLaunchCgroup, sweepLaunchCgroups } from '../cgroup.js';
import { resolveEntrypoint } from '../image-user.js';
import { envPath, envRecord, launchWith, pollFor, setprivArgs, signalPid } from '../process.js';
import { ROOT_CAPABILITIES } from '../runc/runtime-spec.js';
import type { LaunchSpec, Sandbox, SandboxAvailability, SandboxedProcess } from '../types.js';

const ARGS_FD = 3;
const INFO_FD = 4;

/** bwrap's options for `spec` (everything before `--` and the server's argv). */
export function bwrapOptions(spec: LaunchSpec): string[] {
  const identity =
    spec.user.uid === 0
      ? ['--cap-drop', 'ALL', ...ROOT_CAPABILITIES.flatMap((capability) => ['--cap-add', capability])]
      : ['--unshare-user', '--disable-userns'];
  const env = Object.entries(envRecord(spec.env)).flatMap(([name, value]) => ['--setenv', name, value]);
  return [
    '--die-with-parent',
    '--new-session',
    ...identity,
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--hostname',
    spec.id,
    '--unshare-cgroup-try',
    ...(spec.network ? [] : ['--unshare-net']),
    '--bind',
    spec.rootfs,
    '/',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--chdir',
    spec.cwd,
    '--clearenv',
    ...env,
    '--info-fd',
    String(INFO_FD),
  ];
}

function readToEnd(stream: Readable, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (text += chunk));
    stream.once('end', () => resolve(text));
    stream.once('error', reject);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** A child process of `parent`, found by the parent pid in /proc/<pid>/stat. */
async function childOf(parent: number): Promise<number | undefined> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces and parentheses): state, ppid, ...
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) return Number(entry);
    } catch {
      // exited while listed
    }
  }
  return undefined;
}

/**
 * bwrap reports its first child (pid 1 of the namespace); that one forks the server only once the
 * sandbox is set up, so the server appearing is also bwrap's "setup succeeded".
 */
async function serverPid(child: ChildProcess, options: string[], signal: AbortSignal): Promise<number> {
  const args = child.stdio[ARGS_FD] as Writable;
  args.on('error', () => undefined); // bwrap died before reading: the launch fails on its exit
  args.end(Buffer.from(options.map((option) => `${option}\0`).join('')));
  const info = await readToEnd(child.stdio[INFO_FD] as Readable, signal);
  if (info === '') throw new Error('bwrap ended before it created the sandbox');
  const namespaceInit = (JSON.parse(info) as { 'child-pid': number })['child-pid'];
  return pollFor(() => childOf(namespaceInit), signal);
}

export class BwrapSandbox implements Sandbox {
  readonly name = 'bwrap';
  readonly strength = 3;

  sweep(ids: readonly string[]): Promise<void> {
    return sweepLaunchCgroups(ids);
  }

  async probe(): Promise<SandboxAvailability> {
    const [bwrap, setpriv, trueCommand] = [findExecutable('bwrap'), findExecutable('setpriv'), findExecutable('true')];
    if (bwrap === undefined) return { available: false, reason: 'bwrap is not installed (apt-get install bubblewrap)' };
    if (setpriv === undefined || trueCommand === undefined) return { available: false, reason: 'setpriv is not installed (apt-get install util-linux)' };
    if (process.getuid?.() !== 0) return { available: false, reason: 'the bwrap sandbox needs root to switch to the image user and create cgroups' };
    try {
      // What every non-root launch does: an unprivileged bwrap in a new user and pid namespace.
      await run(setpriv, ['--reuid=65534', '--regid=65534', '--clear-groups', '--', bwrap, '--unshare-user', '--unshare-pid', '--ro-bind', '/', '/', '--proc', '/proc', '--', trueCommand]);
    } catch (error) {
      return { available: false, reason: `unprivileged user namespaces do not work here: ${(error as Error).message}` };
    }
    return { available: true };
  }

  launch(spec: LaunchSpec): Promise<SandboxedProcess> {
    return launchWith('bwrap', spec, async (cleanup) => {
      const [bwrap, setpriv] = [requireExecutable('bwrap', 'bubblewrap'), requireExecutable('setpriv', 'util-linux')];
      await resolveEntrypoint(spec.rootfs, spec.argv[0]!, envPath(envRecord(spec.env)), spec.cwd);
      const cgroup = await createLaunchCgroup(spec.id, spec.limits);
      if (cgroup) cleanup.push('cgroup', () => cgroup.remove());
      const command = [setpriv, ...setprivArgs(spec.user, { uid: true }), bwrap, '--args', String(ARGS_FD), '--', ...spec.argv];
      const options = bwrapOptions(spec);
      return {
        // The environment reaches the server through --setenv only; the host chain gets none.
        command: cgroup ? cgroupAttachedCommand(cgroup, {}, command) : command,
        env: {},
        cwd: '/',
        extraPipes: 2,
        started: (child, _pid, signal) => serverPid(child, options, signal),
        signal: (pid, child, signal) => {
          signalPid(pid, signal);
          // Killing bwrap itself takes the whole namespace down (--die-with-parent).
          if (signal === 'SIGKILL') child.kill('SIGKILL');
        },
      };
    });
  }
}

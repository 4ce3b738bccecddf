/**
 * The image's view of users and programs, read from its root filesystem the way a runtime sees it
 * after entering it: every path is resolved with the rootfs as `/`, so a symlink in the image
 * (`/etc -> /host/etc`, `/usr/local/bin/node -> /usr/bin/node`, `../../..`) can never lead a lookup
 * to a file of the host.
 *
 * User resolution follows Docker (runc's libcontainer): `User` is `user[:group]`, each a name or a
 * number; "" means root. A user found in /etc/passwd brings its primary group and, when no group is
 * given, the groups of /etc/group that list it as a member. A number that /etc/passwd does not list
 * is used as is (group 0); a name that is not listed is an error.
 */
import { constants } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { McpWarmError } from '../errors.js';

export interface ImageUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** Used for lookups when the environment has no PATH (what Docker sets by default). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const MAX_ID = 0xfffffffe; // (uid_t)-1 means "unchanged" to the kernel
const MAX_SYMLINK_HOPS = 40;
/** /etc/passwd and /etc/group larger than this are refused rather than read into memory. */
const MAX_ACCOUNT_FILE_BYTES = 4 * 1024 * 1024;

function parseId(text: string): number | undefined {
  if (!/^\d{1,10}$/.test(text)) return undefined;
  const id = Number(text);
  return id <= MAX_ID ? id : undefined;
}

/** Entries of an /etc/passwd text; comments and malformed lines are skipped (as libc does). */
export function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (line.startsWith('#') || fields.length < 4) continue;
    const uid = parseId(fields[2]!);
    const gid = parseId(fields[3]!);
    if (fields[0] !== '' && uid !== undefined && gid !== undefined) entries.push({ name: fields[0]!, uid, gid });
  }
  return entries;
}

/** Entries of an /etc/group text; comments and malformed lines are skipped. */
export function parseGroup(text: string): GroupEntry[] {
  const entries: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (line.startsWith('#') || fields.length < 3) continue;
    const gid = parseId(fields[2]!);
    const members = (fields[3] ?? '').split(',').map((member) => member.trim()).filter(Boolean);
    if (fields[0] !== '' && gid !== undefined) entries.push({ name: fields[0]!, gid, members });
  }
  return entries;
}

function notFound(message: string, user: string): McpWarmError {
  return new McpWarmError('USER_NOT_FOUND', message, { details: { user } });
}

/** Numeric ids for an image's `User` against its parsed /etc/passwd and /etc/group. */
export function resolveUserSpec(user: string, passwd: readonly PasswdEntry[], groups: readonly GroupEntry[]): ImageUser {
  const [userPart = '', groupPart, ...rest] = user.split(':');
  if (rest.length > 0 || groupPart === '') throw notFound(`image user "${user}" is not of the form user[:group]`, user);
  const userText = userPart === '' ? '0' : userPart;
  const numericUid = parseId(userText);
  const account = passwd.find((entry) => (numericUid === undefined ? entry.name === userText : entry.uid === numericUid));
  if (account === undefined && numericUid === undefined) throw notFound(`user "${userText}" is not in the image's /etc/passwd`, user);
  const uid = numericUid ?? account!.uid;

  if (groupPart !== undefined) {
    const numericGid = parseId(groupPart);
    const group = numericGid === undefined ? groups.find((entry) => entry.name === groupPart) : undefined;
    if (numericGid === undefined && group === undefined) throw notFound(`group "${groupPart}" is not in the image's /etc/group`, user);
    // An explicit group replaces the user's groups entirely, supplementary ones included.
    return { uid, gid: numericGid ?? group!.gid, additionalGids: [] };
  }

  const gid = account?.gid ?? 0;
  const additionalGids: number[] = [];
  if (account !== undefined) {
    for (const group of groups) {
      if (group.members.includes(account.name) && group.gid !== gid && !additionalGids.includes(group.gid)) additionalGids.push(group.gid);
    }
  }
  return { uid, gid, additionalGids };
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * The host path of `imagePath` inside `rootfs`, with every symlink on the way resolved as the image
 * sees it: absolute targets start again at the rootfs, and `..` stops at it. Undefined when a
 * component does not exist (or symlinks loop).
 */
export async function resolveInRootfs(rootfs: string, imagePath: string): Promise<string | undefined> {
  const pending = imagePath.split('/');
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const hostPath = join(rootfs, ...resolved, part);
    let isSymlink: boolean;
    try {
      isSymlink = (await lstat(hostPath)).isSymbolicLink();
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    if (!isSymlink) {
      resolved.push(part);
      continue;
    }
    if (++hops > MAX_SYMLINK_HOPS) return undefined;
    const target = await readlink(hostPath);
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...target.split('/'));
  }
  return join(rootfs, ...resolved);
}

/** The text of a regular file of the image, or '' when the image has none there. */
async function readImageFile(rootfs: string, imagePath: string, user: string): Promise<string> {
  const hostPath = await resolveInRootfs(rootfs, imagePath);
  if (hostPath === undefined) return '';
  // O_NONBLOCK: a FIFO planted at /etc/passwd must not hang the open; O_NOFOLLOW: nothing was swapped in since.
  const handle = await open(hostPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw notFound(`the image's ${imagePath} is not a regular file`, user);
    if (info.size > MAX_ACCOUNT_FILE_BYTES) throw notFound(`the image's ${imagePath} is larger than ${MAX_ACCOUNT_FILE_BYTES} bytes`, user);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** Numeric ids for an image's `User`, read against the rootfs's /etc/passwd and /etc/group. */
export async function resolveImageUser(rootfs: string, user: string): Promise<ImageUser> {
  const [passwd, group] = await Promise.all([readImageFile(rootfs, '/etc/passwd', user), readImageFile(rootfs, '/etc/group', user)]);
  return resolveUserSpec(user, parsePasswd(passwd), parseGroup(group));
}

async function isExecutableFile(rootfs: string, imagePath: string): Promise<boolean> {
  const hostPath = await resolveInRootfs(rootfs, imagePath);
  if (hostPath === undefined) return false;
  const info = await lstat(hostPath);
  return info.isFile() && (info.mode & 0o111) !== 0;
}

/**
 * Where the image's program `argv0` is, as an image path: a name with a '/' is taken as is (relative
 * to `cwd`), a bare name is looked up along `path` (the image's PATH). The path is returned as found,
 * not with its symlinks resolved, so multi-call programs still see the name they were called by.
 */
export async function resolveEntrypoint(rootfs: string, argv0: string, path: string = DEFAULT_PATH, cwd = '/'): Promise<string> {
  const candidates = argv0.includes('/')
    ? [posix.resolve(cwd, argv0)]
    : path
        .split(':')
        .filter((dir) => dir.startsWith('/'))
        .map((dir) => posix.join(dir, argv0));
  for (const candidate of argv0 === '' ? [] : candidates) {
    if (await isExecutableFile(rootfs, candidate)) return candidate;
  }
  throw new McpWarmError(
    'ENTRYPOINT_NOT_FOUND',
    argv0.includes('/') ? `${argv0} is not an executable file in the image` : `${JSON.stringify(argv0)} is not an executable file in any directory of PATH=${path}`,
    { details: { program: argv0, path } },
  );
}

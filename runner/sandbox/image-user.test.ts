import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caught } from '../../test/support/caught.js';
import { parseGroup, parsePasswd, resolveEntrypoint, resolveImageUser, resolveInRootfs, resolveUserSpec } from './image-user.js';

const PASSWD = parsePasswd(
  [
    '# comment line',
    'root:x:0:0:root:/root:/bin/sh',
    'app:x:1000:1000:app:/home/app:/bin/sh',
    'worker:x:1001:1001::/home/worker:/bin/sh',
    'broken line',
    'bad:x:notanumber:1:::',
  ].join('\n'),
);
const GROUPS = parseGroup(['root:x:0:', 'app:x:1000:', 'staff:x:50:app,worker', 'docker:x:999: app ', 'worker:x:1001:', 'wheel:x:10:root'].join('\n'));

describe('parsePasswd and parseGroup', () => {
  it('keep well-formed entries only', () => {
    expect(PASSWD.map((entry) => entry.name)).toEqual(['root', 'app', 'worker']);
    expect(GROUPS.find((group) => group.name === 'docker')).toEqual({ name: 'docker', gid: 999, members: ['app'] });
  });
});

describe('resolveUserSpec', () => {
  it.each([
    ['', { uid: 0, gid: 0, additionalGids: [10] }],
    ['root', { uid: 0, gid: 0, additionalGids: [10] }],
    ['1000', { uid: 1000, gid: 1000, additionalGids: [50, 999] }],
    ['app', { uid: 1000, gid: 1000, additionalGids: [50, 999] }],
    ['1000:1000', { uid: 1000, gid: 1000, additionalGids: [] }],
    ['app:staff', { uid: 1000, gid: 50, additionalGids: [] }],
    ['1000:staff', { uid: 1000, gid: 50, additionalGids: [] }],
    ['worker:2000', { uid: 1001, gid: 2000, additionalGids: [] }],
    // A uid the image does not list runs with group 0 and no supplementary groups (as Docker does).
    ['4242', { uid: 4242, gid: 0, additionalGids: [] }],
  ])('resolves %j', (user, expected) => {
    expect(resolveUserSpec(user, PASSWD, GROUPS)).toEqual(expected);
  });

  it.each(['nobody', 'app:nogroup', '1000:nogroup', 'nobody:staff', 'app:', 'a:b:c', '99999999999'])('refuses %j with USER_NOT_FOUND', (user) => {
    expect(() => resolveUserSpec(user, PASSWD, GROUPS)).toThrowError(expect.objectContaining({ code: 'USER_NOT_FOUND' }));
  });

  it('resolves numeric users without any account files', () => {
    expect(resolveUserSpec('1000:1000', [], [])).toEqual({ uid: 1000, gid: 1000, additionalGids: [] });
    expect(() => resolveUserSpec('app', [], [])).toThrowError(expect.objectContaining({ code: 'USER_NOT_FOUND' }));
  });
});

describe('reading the rootfs', () => {
  let work: string;
  let host: string;
  let rootfs: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'mcpwarm-image-user-'));
    // A directory of the "host" that hostile symlinks in the image point at.
    host = join(work, 'host');
    await mkdir(join(host, 'etc'), { recursive: true });
    await writeFile(join(host, 'etc/passwd'), 'hostonly:x:7:7::/:/bin/sh\n');
    await writeFile(join(host, 'secret-tool'), '#!/bin/sh\n');
    await chmod(join(host, 'secret-tool'), 0o755);

    rootfs = join(work, 'rootfs');
    await mkdir(join(rootfs, 'etc'), { recursive: true });
    await mkdir(join(rootfs, 'usr/bin'), { recursive: true });
    await mkdir(join(rootfs, 'usr/local/bin'), { recursive: true });
    await writeFile(join(rootfs, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
    await writeFile(join(rootfs, 'etc/group'), 'root:x:0:\napp:x:1000:\nstaff:x:50:app\n');
    await writeFile(join(rootfs, 'usr/bin/node'), 'binary');
    await chmod(join(rootfs, 'usr/bin/node'), 0o755);
    await symlink('/usr/bin/node', join(rootfs, 'usr/local/bin/node'));
    await writeFile(join(rootfs, 'usr/bin/data.txt'), 'not a program');
    await symlink('../../../../../../../../host/secret-tool', join(rootfs, 'usr/bin/escape'));
    await symlink(join(host, 'secret-tool'), join(rootfs, 'usr/bin/absolute-escape'));
    await symlink('loop-b', join(rootfs, 'usr/bin/loop-a'));
    await symlink('loop-a', join(rootfs, 'usr/bin/loop-b'));
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('resolves the user against the image files', async () => {
    expect(await resolveImageUser(rootfs, 'app')).toEqual({ uid: 1000, gid: 1000, additionalGids: [50] });
    expect((await caught(resolveImageUser(rootfs, 'hostonly'))).code).toBe('USER_NOT_FOUND');
  });

  it('resolves an absolute /etc symlink inside the rootfs, never on the host', async () => {
    const image = join(work, 'etc-link');
    await mkdir(join(image, 'real-etc'), { recursive: true });
    await writeFile(join(image, 'real-etc/passwd'), 'svc:x:300:300::/:/bin/sh\n');
    await symlink('/real-etc', join(image, 'etc'));
    expect(await resolveImageUser(image, 'svc')).toEqual({ uid: 300, gid: 300, additionalGids: [] });
    // Pointing /etc at the host's path of a real directory still stays inside the image.
    const hostile = join(work, 'etc-escape');
    await mkdir(hostile);
    await symlink(join(host, 'etc'), join(hostile, 'etc'));
    expect((await caught(resolveImageUser(hostile, 'hostonly'))).code).toBe('USER_NOT_FOUND');
  });

  it('refuses account files that are not regular files', async () => {
    const image = join(work, 'etc-dir');
    await mkdir(join(image, 'etc/passwd'), { recursive: true });
    const error = await caught(resolveImageUser(image, '1000'));
    expect(error.code).toBe('USER_NOT_FOUND');
    expect(error.message).toContain('not a regular file');
  });

  it('keeps .. and absolute symlink targets inside the rootfs', async () => {
    expect(await resolveInRootfs(rootfs, '/usr/local/bin/node')).toBe(join(rootfs, 'usr/bin/node'));
    expect(await resolveInRootfs(rootfs, '/../../usr/bin/node')).toBe(join(rootfs, 'usr/bin/node'));
    expect(await resolveInRootfs(rootfs, '/usr/bin/escape')).toBeUndefined();
    expect(await resolveInRootfs(rootfs, '/usr/bin/loop-a')).toBeUndefined();
  });

  it('finds programs along PATH or by path, following symlinks within the image', async () => {
    expect(await resolveEntrypoint(rootfs, 'node', '/bin:/usr/local/bin:/usr/bin')).toBe('/usr/local/bin/node');
    expect(await resolveEntrypoint(rootfs, '/usr/local/bin/node')).toBe('/usr/local/bin/node');
    expect(await resolveEntrypoint(rootfs, '../bin/node', undefined, '/usr/local')).toBe('/usr/bin/node');
  });

  it.each([
    ['missing', '/usr/bin'],
    ['data.txt', '/usr/bin'],
    ['escape', '/usr/bin'],
    ['absolute-escape', '/usr/bin'],
    ['loop-a', '/usr/bin'],
    ['/usr/bin', '/usr/bin'],
    ['', '/usr/bin'],
    ['node', 'usr/bin'],
  ])('refuses %j (PATH=%s) with ENTRYPOINT_NOT_FOUND', async (argv0, path) => {
    const error = await caught(resolveEntrypoint(rootfs, argv0, path));
    expect(error.code).toBe('ENTRYPOINT_NOT_FOUND');
  });
});

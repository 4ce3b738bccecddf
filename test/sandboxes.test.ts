/**
 * Every sandbox against its real runtime (runc, bwrap, unshare, setpriv; as root): the fixture
 * image, built by the project's builder and unpacked into a rootfs, started as the image's user,
 * answering MCP initialize on stdio; namespaces, network and cgroup limits checked from the host;
 * and after stop() or a failed launch, no process, cgroup, runc container, bundle or scratch left.
 * Elsewhere than CI a missing runtime or not being root skips; under CI=true it fails.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { requireExecutable, run } from '../runner/exec.js';
import { buildImage } from '../runner/oci/build/builder.js';
import { hostCgroupPlacements, launchCgroupDirs, type CgroupController } from '../runner/sandbox/cgroup.js';
import { allSandboxes, sandboxReport, selectSandbox } from '../runner/sandbox/registry.js';
import { envRecord } from '../runner/sandbox/process.js';
import { RuncSandbox } from '../runner/sandbox/runc/index.js';
import type { LaunchSpec, Sandbox, SandboxName, SandboxedProcess } from '../runner/sandbox/types.js';
import { caught } from './support/caught.js';

const CI = process.env.CI === 'true';
const IMAGE_ARGV = ['/usr/local/bin/node', '/app/server.mjs'];
const IMAGE_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'NODE_ENV=production'];
const APP_USER = { uid: 1000, gid: 1000, additionalGids: [] };
const INITIALIZE = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'sandbox-test', version: '1' } };

let work: string;
/**
 * The fixture image's layers unpacked, plus scripts: /app/start.mjs starts the server through its
 * #! line (/app/start-on-host.mjs does on the host), /app/broken.sh names an interpreter the image lacks.
 */
let rootfs: string;
/** A tree with the fixture's entrypoint but /proc a regular file: no namespaced runtime can mount proc there. */
let procFileRootfs: string;
let launches = 0;

beforeAll(async () => {
  if (process.getuid?.() !== 0) {
    if (CI) throw new Error('the sandbox tests run as root under CI');
    return;
  }
  work = await mkdtemp(join(tmpdir(), 'mcpwarm-sandboxes-'));
  // The image's user (1000) must be able to reach the rootfs below this directory.
  await chmod(work, 0o755);
  rootfs = join(work, 'rootfs');
  await mkdir(rootfs);
  const image = await buildImage('scenarios/images/fixture.image.yaml');
  try {
    const tar = requireExecutable('tar', 'tar');
    for (const layer of image.layers) await run(tar, ['-xzf', layer.file, '-C', rootfs]);
  } finally {
    await image.cleanup();
  }
  await writeFile(join(rootfs, 'app/broken.sh'), '#!/bin/no-such-shell\n', { mode: 0o755 });
  await writeFile(join(rootfs, 'app/start.mjs'), "#!/usr/local/bin/node\nimport '/app/server.mjs';\n", { mode: 0o755 });
  await writeFile(join(rootfs, 'app/start-on-host.mjs'), `#!${process.execPath}\nimport '${join(rootfs, 'app/server.mjs')}';\n`, { mode: 0o755 });
  procFileRootfs = join(work, 'proc-file-rootfs');
  for (const dir of ['app', 'dev', 'usr/local/bin']) await mkdir(join(procFileRootfs, dir), { recursive: true });
  await writeFile(join(procFileRootfs, 'usr/local/bin/node'), '', { mode: 0o755 });
  await writeFile(join(procFileRootfs, 'proc'), '');
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** The sandbox, or a skip (a failure under CI) when it cannot run here. */
async function usable(name: SandboxName, context: TestContext): Promise<Sandbox> {
  const entry = (await sandboxReport()).find((candidate) => candidate.name === name)!;
  if (process.getuid?.() !== 0 || !entry.available) {
    const why = process.getuid?.() !== 0 ? 'not root' : entry.reason;
    if (CI) throw new Error(`the ${name} sandbox must run under CI: ${why}`);
    context.skip(why);
  }
  return allSandboxes().find((sandbox) => sandbox.name === name)!;
}

async function launchSpec(name: SandboxName, overrides: Partial<LaunchSpec> = {}): Promise<LaunchSpec> {
  const id = `t-${name}-${(launches += 1)}`;
  const workDir = join(work, 'instances', id);
  await mkdir(workDir, { recursive: true });
  return { id, rootfs, argv: IMAGE_ARGV, env: IMAGE_ENV, cwd: '/app', user: APP_USER, limits: {}, network: false, workDir, ...overrides };
}

/** Newline-delimited JSON messages of `stream`, handed out as they arrive. */
function messages(stream: Readable): (timeoutMs?: number) => Promise<Record<string, any>> {
  const queue: Array<Record<string, any>> = [];
  let wake: (() => void) | undefined;
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    queue.push(...lines.filter(Boolean).map((line) => JSON.parse(line) as Record<string, any>));
    wake?.();
  });
  return async (timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    while (queue.length === 0) {
      if (Date.now() > deadline) throw new Error(`no message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    return queue.shift()!;
  };
}

function sendInitialize(server: SandboxedProcess): void {
  server.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INITIALIZE })}\n`);
}

async function statusField(pid: number, field: string): Promise<string[]> {
  const line = (await readFile(`/proc/${pid}/status`, 'utf8')).split('\n').find((text) => text.startsWith(`${field}:`))!;
  return line.slice(field.length + 1).trim().split(/\s+/);
}

/** An interface file of the cgroup `pid` is in, found from the host's view of /proc/<pid>/cgroup. */
async function cgroupFile(pid: number, controller: CgroupController, v1File: string, v2File: string): Promise<string> {
  const placement = hostCgroupPlacements().find((candidate) => candidate.controllers.includes(controller))!;
  const lines = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n').map((line) => line.split(':'));
  const entry = placement.version === 1 ? lines.find(([, controllers]) => controllers?.split(',').includes(controller)) : lines.find(([id]) => id === '0');
  return (await readFile(join(placement.mount, entry![2]!, placement.version === 1 ? v1File : v2File), 'utf8')).trim();
}

async function cgroupMembers(id: string): Promise<number[]> {
  const procs = await readFile(join(launchCgroupDirs(id)[0]!, 'cgroup.procs'), 'utf8');
  return procs.split('\n').filter(Boolean).map(Number);
}

/** Whether `pid` still runs: gone, or dead and waiting for the host's init to reap it (orphans go there), is not. */
async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return !['Z', 'X'].includes(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

/** No trace of the launch: no process, cgroup, runc container or bundle. */
async function expectNoTrace(spec: LaunchSpec, pids: number[]): Promise<void> {
  for (const pid of pids) expect(await isRunning(pid), `process ${pid}`).toBe(false);
  for (const dir of launchCgroupDirs(spec.id)) expect(existsSync(dir), dir).toBe(false);
  expect(await new RuncSandbox().containers()).not.toContain(spec.id);
}

/** After stop(): no trace, and the scratch directory is gone too. */
async function expectStoppedCleanly(spec: LaunchSpec, pids: number[]): Promise<void> {
  await expectNoTrace(spec, pids);
  expect(existsSync(spec.workDir), spec.workDir).toBe(false);
}

/** After a failed launch: no trace, and the scratch directory is left empty to the caller that made it. */
async function expectFailedCleanly(spec: LaunchSpec): Promise<void> {
  await expectNoTrace(spec, []);
  expect(await readdir(spec.workDir)).toEqual([]);
}

interface SandboxCase {
  name: SandboxName;
  /** Own pid and network namespaces. */
  namespaces: boolean;
  /** The fixture server's command line in this sandbox. */
  serverArgv(): string[];
  /** A script that starts the fixture server through its #! line. */
  script(): string;
  /** A launch that the runtime itself fails, and what its output says. */
  failingLaunch(): Partial<LaunchSpec>;
  failureOutput: RegExp;
}

const CASES: SandboxCase[] = [
  { name: 'runc', namespaces: true, serverArgv: () => IMAGE_ARGV, script: () => '/app/start.mjs', failingLaunch: () => ({ rootfs: procFileRootfs }), failureOutput: /proc/ },
  { name: 'bwrap', namespaces: true, serverArgv: () => IMAGE_ARGV, script: () => '/app/start.mjs', failingLaunch: () => ({ rootfs: procFileRootfs }), failureOutput: /proc/ },
  { name: 'chroot', namespaces: false, serverArgv: () => IMAGE_ARGV, script: () => '/app/start.mjs', failingLaunch: () => ({ argv: ['/app/broken.sh'] }), failureOutput: /No such file/ },
  {
    name: 'none',
    namespaces: false,
    // On the host: the host's node runs the server file of the unpacked image.
    serverArgv: () => [process.execPath, join(rootfs, 'app/server.mjs')],
    script: () => join(rootfs, 'app/start-on-host.mjs'),
    failingLaunch: () => ({ argv: [join(rootfs, 'app/broken.sh')] }),
    failureOutput: /No such file/,
  },
];

describe.each(CASES)('the $name sandbox', (sandboxCase) => {
  const { name } = sandboxCase;

  it('runs the server as the image user and groups, within its limits, and stop() leaves nothing', async (context) => {
    const sandbox = await usable(name, context);
    const spec = await launchSpec(name, {
      argv: sandboxCase.serverArgv(),
      env: [...IMAGE_ENV, 'FIXTURE_STDERR_BYTES=16'],
      user: { ...APP_USER, additionalGids: [27, 1001] },
      limits: { memoryMiB: 256, cpus: 1, pids: 64 },
    });
    const server = await sandbox.launch(spec);
    try {
      const next = messages(server.stdout);
      sendInitialize(server);
      const answer = await next();
      expect(answer).toMatchObject({ id: 1, result: { protocolVersion: '2025-06-18', serverInfo: { name: 'mcp-fixture-server' } } });

      expect(await statusField(server.pid, 'Uid')).toEqual(['1000', '1000', '1000', '1000']);
      expect(await statusField(server.pid, 'Gid')).toEqual(['1000', '1000', '1000', '1000']);
      expect(await statusField(server.pid, 'Groups')).toEqual(['27', '1001']);
      expect(await statusField(server.pid, 'NSpid')).toHaveLength(sandboxCase.namespaces ? 2 : 1);
      const sameNetwork = (await readlink(`/proc/${server.pid}/ns/net`)) === (await readlink('/proc/self/ns/net'));
      expect(sameNetwork).toBe(!sandboxCase.namespaces);

      expect(await cgroupFile(server.pid, 'memory', 'memory.limit_in_bytes', 'memory.max')).toBe(String(256 * 1024 * 1024));
      expect(await cgroupFile(server.pid, 'pids', 'pids.max', 'pids.max')).toBe('64');
      expect(await cgroupFile(server.pid, 'cpu', 'cpu.cfs_quota_us', 'cpu.max')).toMatch(/^100000( 100000)?$/);

      const stderr: Buffer[] = [];
      server.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      await expect.poll(() => Buffer.concat(stderr).toString()).toContain('e'.repeat(16));
    } finally {
      await server.stop(2000);
    }
    expect(await server.exited).toBeDefined();
    await expectStoppedCleanly(spec, [server.pid]);
  });

  it('starts a script through its interpreter', async (context) => {
    const sandbox = await usable(name, context);
    const spec = await launchSpec(name, { argv: [sandboxCase.script()] });
    const server = await sandbox.launch(spec);
    try {
      const next = messages(server.stdout);
      sendInitialize(server);
      expect((await next()).result.serverInfo.name).toBe('mcp-fixture-server');
    } finally {
      await server.stop(2000);
    }
    await expectStoppedCleanly(spec, [server.pid]);
  });

  if (sandboxCase.namespaces) {
    it('gives a root server only the minimal capabilities', async (context) => {
      const sandbox = await usable(name, context);
      const spec = await launchSpec(name, { user: { uid: 0, gid: 0, additionalGids: [] } });
      const server = await sandbox.launch(spec);
      try {
        expect(await statusField(server.pid, 'Uid')).toEqual(['0', '0', '0', '0']);
        // CAP_KILL (5), CAP_NET_BIND_SERVICE (10), CAP_AUDIT_WRITE (29).
        expect(await statusField(server.pid, 'CapEff')).toEqual(['0000000020000420']);
      } finally {
        await server.stop(2000);
      }
      await expectStoppedCleanly(spec, [server.pid]);
    });

    it('shares the host network only when asked', async (context) => {
      const sandbox = await usable(name, context);
      const spec = await launchSpec(name, { network: true });
      const server = await sandbox.launch(spec);
      try {
        expect(await readlink(`/proc/${server.pid}/ns/net`)).toBe(await readlink('/proc/self/ns/net'));
        expect(await statusField(server.pid, 'NSpid')).toHaveLength(2);
      } finally {
        await server.stop(2000);
      }
      await expectStoppedCleanly(spec, [server.pid]);
    });
  }

  it('refuses a program the image lacks with ENTRYPOINT_NOT_FOUND and leaves nothing', async (context) => {
    const sandbox = await usable(name, context);
    const spec = await launchSpec(name, { argv: name === 'none' ? [join(rootfs, 'usr/bin/no-such-server')] : ['no-such-server', '--stdio'] });
    const error = await caught(sandbox.launch(spec));
    expect(error.code).toBe('ENTRYPOINT_NOT_FOUND');
    await expectFailedCleanly(spec);
  });

  it("reports the runtime's failure with SANDBOX_LAUNCH_FAILED and its output, and leaves nothing", async (context) => {
    const sandbox = await usable(name, context);
    const spec = await launchSpec(name, { ...sandboxCase.failingLaunch(), limits: { pids: 32 } });
    const error = await caught(sandbox.launch(spec));
    expect(error.code).toBe('SANDBOX_LAUNCH_FAILED');
    expect(error.message).toMatch(sandboxCase.failureOutput);
    await expectFailedCleanly(spec);
  });

  it('refuses a second launch with a running instance id, and the first keeps running', async (context) => {
    const sandbox = await usable(name, context);
    const spec = await launchSpec(name, { argv: sandboxCase.serverArgv() });
    const first = await sandbox.launch(spec);
    try {
      const second = await caught(sandbox.launch({ ...spec, workDir: join(work, 'instances', `${spec.id}-again`) }));
      expect(second.code).toBe('SANDBOX_LAUNCH_FAILED');
      const next = messages(first.stdout);
      sendInitialize(first);
      expect((await next()).result.serverInfo.name).toBe('mcp-fixture-server');
    } finally {
      await first.stop(2000);
    }
    await expectStoppedCleanly(spec, [first.pid]);
  });

  it('kills a server that ignores SIGTERM after the grace period, with everything it started', async (context) => {
    const sandbox = await usable(name, context);
    const script = [
      // stdio inherited: the chroot sandbox has no /dev/null to ignore output into.
      "const child = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'inherit' });",
      "process.on('SIGTERM', () => {});",
      "console.log(JSON.stringify({ started: child.pid }));",
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const node = name === 'none' ? process.execPath : '/usr/local/bin/node';
    const spec = await launchSpec(name, { argv: [node, '-e', script] });
    const server = await sandbox.launch(spec);
    let members: number[] = [];
    let stopMs = 0;
    try {
      expect(await messages(server.stdout)()).toHaveProperty('started');
      members = await cgroupMembers(spec.id);
      expect(members.length).toBeGreaterThanOrEqual(2);
    } finally {
      const start = performance.now();
      await server.stop(400);
      stopMs = performance.now() - start;
    }
    expect(stopMs).toBeGreaterThanOrEqual(390);
    await expectStoppedCleanly(spec, [server.pid, ...members]);
  });
});

describe('selection', () => {
  it('picks runc as the strongest sandbox here', async (context) => {
    await usable('runc', context);
    expect((await selectSandbox('auto')).name).toBe('runc');
  });
});

describe('launch overhead', () => {
  /** Milliseconds from starting the server to the first byte of its initialize answer. */
  async function timeToFirstByte(start: () => Promise<{ stdin: SandboxedProcess['stdin']; stdout: Readable }>): Promise<number> {
    const begin = performance.now();
    const server = await start();
    const firstByte = new Promise<number>((resolve) => server.stdout.once('data', () => resolve(performance.now() - begin)));
    server.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INITIALIZE })}\n`);
    return firstByte;
  }

  it('is measured against a bare spawn of the same server', async (context) => {
    for (const { name } of CASES) await usable(name, context);
    const runs = 5;
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const bare: number[] = [];
    for (let index = 0; index < runs; index += 1) {
      const child = spawn(process.execPath, [join(rootfs, 'app/server.mjs')], { env: envRecord(IMAGE_ENV), stdio: ['pipe', 'pipe', 'ignore'] });
      bare.push(await timeToFirstByte(async () => ({ stdin: child.stdin, stdout: child.stdout })));
      child.kill('SIGKILL');
    }
    const rows = [{ sandbox: 'bare spawn', firstByteMs: Math.round(median(bare)), overheadMs: 0 }];
    for (const sandboxCase of CASES) {
      const sandbox = allSandboxes().find((candidate) => candidate.name === sandboxCase.name)!;
      const times: number[] = [];
      for (let index = 0; index < runs; index += 1) {
        const spec = await launchSpec(sandboxCase.name, { argv: sandboxCase.serverArgv() });
        let server: SandboxedProcess | undefined;
        times.push(await timeToFirstByte(async () => (server = await sandbox.launch(spec))));
        await server!.stop(1000);
      }
      rows.push({ sandbox: sandboxCase.name, firstByteMs: Math.round(median(times)), overheadMs: Math.round(median(times) - median(bare)) });
    }
    console.table(rows);
    expect(rows.every((row) => row.firstByteMs > 0)).toBe(true);
  });
});

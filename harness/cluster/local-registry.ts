/**
 * The embedded default's OCI registry: CNCF distribution (Debian `docker-registry`) run as a
 * managed child process bound to loopback. A state directory holds its config, storage, log and
 * pid file, so that `registry up`, `status` and `down` can be separate invocations. A second
 * registry can serve the same storage read-only (a shaped registry link's, started inside a
 * network namespace through `ip netns exec`): blobs and manifests are files that distribution
 * reads afresh on every request, so what the first one stores is served by both.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpWarmError } from '../../runner/errors.js';
import { isProcessAlive, requireExecutable } from '../../runner/exec.js';

export interface LocalRegistryOptions {
  /** State directory: config.yml, data/, registry.log, registry.pid. */
  dir: string;
  /** 0 picks a free port (in this process's network namespace). */
  port: number;
  host?: string;
  /** Storage root, when not `dir`/data (another registry's, shared). */
  storageDir?: string;
  /** Refuse pushes and deletes, and leave upload purging to the storage's own registry. */
  readOnly?: boolean;
  /**
   * A command the registry is started through, which ends by executing it (for example
   * `ip netns exec NAME`), so that the spawned pid is the registry's.
   */
  spawnPrefix?: readonly string[];
  /** Extra top-level config sections (for example `auth`), merged over the defaults. */
  extraConfig?: Record<string, unknown>;
  /** Leave the registry running after this process exits (the CLI's `up`). */
  detached?: boolean;
  readyTimeoutMs?: number;
}

export interface LocalRegistry {
  /** host:port, as used in image references. */
  address: string;
  url: string;
  port: number;
  pid: number;
  dir: string;
  /** Where blobs and manifests are stored. */
  storageDir: string;
  stop(): Promise<void>;
}

interface PidRecord {
  pid: number;
  port: number;
  host: string;
  startedAt: string;
}

const PID_FILE = 'registry.pid';
const BINARY = 'docker-registry';

export function registryBinary(): string {
  return requireExecutable(BINARY, 'docker-registry');
}

/** Config of distribution 2.8 as YAML; JSON is valid YAML, so no YAML writer is needed. */
function registryConfig(opts: { dataDir: string; readOnly: boolean; host: string; port: number; extra?: Record<string, unknown> }): string {
  const storage = opts.readOnly
    ? { maintenance: { readonly: { enabled: true }, uploadpurging: { enabled: false } } }
    : { delete: { enabled: true } };
  const config = {
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true }, fields: { service: 'mcpwarm-registry' } },
    storage: { filesystem: { rootdirectory: opts.dataDir }, cache: { blobdescriptor: 'inmemory' }, ...storage },
    http: { addr: `${opts.host}:${opts.port}`, headers: { 'X-Content-Type-Options': ['nosniff'] } },
    ...opts.extra,
  };
  return JSON.stringify(config, null, 2);
}

/** A port nothing listens on now on `host` (the kernel picks it). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function answersV2(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    // 401 means an auth-enabled registry that is up.
    return res.status === 200 || res.status === 401;
  } catch {
    return false;
  }
}

async function isRegistryProcess(pid: number): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(BINARY);
  } catch {
    return false;
  }
}

async function tailOf(path: string, lines = 15): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function waitForExit(pid: number, child: ChildProcess | undefined, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child ? child.exitCode !== null || child.signalCode !== null : !isProcessAlive(pid)) return true;
    await sleep(20);
  }
  return false;
}

async function terminate(pid: number, child?: ChildProcess): Promise<void> {
  if (!isProcessAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  if (!(await waitForExit(pid, child, 5000))) {
    process.kill(pid, 'SIGKILL');
    await waitForExit(pid, child, 2000);
  }
}

export async function startLocalRegistry(options: LocalRegistryOptions): Promise<LocalRegistry> {
  const binary = registryBinary();
  const host = options.host ?? '127.0.0.1';
  const dir = options.dir;
  const storageDir = options.storageDir ?? join(dir, 'data');
  await mkdir(dir, { recursive: true });
  await mkdir(storageDir, { recursive: true });
  const port = options.port === 0 ? await freePort(host) : options.port;
  const configPath = join(dir, 'config.yml');
  await writeFile(configPath, registryConfig({ dataDir: storageDir, readOnly: options.readOnly === true, host, port, extra: options.extraConfig }));
  const logPath = join(dir, 'registry.log');
  const logFd = openSync(logPath, 'w');
  const [command, ...prefixArgs] = [...(options.spawnPrefix ?? []), binary];
  let child: ChildProcess;
  try {
    child = spawn(command!, [...prefixArgs, 'serve', configPath], {
      stdio: ['ignore', logFd, logFd],
      detached: options.detached === true,
    });
  } finally {
    closeSync(logFd);
  }
  // A prefix command that cannot be spawned is reported below (no pid), not as an uncaught event.
  child.on('error', () => undefined);
  const pid = child.pid;
  if (pid === undefined) {
    throw new McpWarmError('LOCAL_REGISTRY_START_FAILED', `could not spawn ${[command, ...prefixArgs].join(' ')}`);
  }
  if (options.detached) child.unref();

  const url = `http://${host}:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 10_000);
  while (!(await answersV2(url))) {
    const exited = child.exitCode !== null || child.signalCode !== null;
    if (exited || Date.now() > deadline) {
      await terminate(pid, child);
      const log = await tailOf(logPath);
      throw new McpWarmError(
        'LOCAL_REGISTRY_START_FAILED',
        `registry on ${host}:${port} ${exited ? 'exited' : 'did not answer /v2/ in time'}; log ${logPath}:\n${log}`,
        { details: { port, logPath } },
      );
    }
    await sleep(25);
  }
  const record: PidRecord = { pid, port, host, startedAt: new Date().toISOString() };
  await writeFile(join(dir, PID_FILE), JSON.stringify(record));
  return {
    address: `${host}:${port}`,
    url,
    port,
    pid,
    dir,
    storageDir,
    stop: async () => {
      await terminate(pid, child);
      await rm(join(dir, PID_FILE), { force: true });
    },
  };
}

export interface LocalRegistryStatus {
  running: boolean;
  answering: boolean;
  pid?: number;
  address?: string;
  dir: string;
}

async function readPidRecord(dir: string): Promise<PidRecord | undefined> {
  const path = join(dir, PID_FILE);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(await readFile(path, 'utf8')) as PidRecord;
  } catch {
    return undefined;
  }
}

export async function localRegistryStatus(dir: string): Promise<LocalRegistryStatus> {
  const record = await readPidRecord(dir);
  if (!record || !isProcessAlive(record.pid) || !(await isRegistryProcess(record.pid))) {
    return { running: false, answering: false, dir };
  }
  const address = `${record.host}:${record.port}`;
  return { running: true, answering: await answersV2(`http://${address}`), pid: record.pid, address, dir };
}

/** Stops the registry recorded in `dir`; true when one was running. Leaves storage in place. */
export async function stopLocalRegistry(dir: string): Promise<boolean> {
  const record = await readPidRecord(dir);
  let stopped = false;
  if (record && isProcessAlive(record.pid) && (await isRegistryProcess(record.pid))) {
    await terminate(record.pid);
    stopped = true;
  }
  await rm(join(dir, PID_FILE), { force: true });
  return stopped;
}

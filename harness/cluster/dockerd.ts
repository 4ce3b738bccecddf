/**
 * The Docker engine the docker substrate, its tests and the benchmarks talk to. A daemon that
 * already answers (DOCKER_HOST, else /var/run/docker.sock) is used as it is; otherwise, as root,
 * `dockerd` (Debian `docker.io`) is started in the background like a system service, with its log
 * and pid under the state directory, and left running for the next command (`mcpwarm docker down`
 * stops it). Two callers that start it at once are fine: dockerd refuses a second instance on the
 * same pid file, and both wait for the one that starts.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpWarmError } from '../../runner/errors.js';
import { isProcessAlive, requireExecutable, run } from '../../runner/exec.js';
import { unmountUnder } from '../../runner/mounts.js';
import { dockerSocketPath } from '../../runner/substrates/docker/engine.js';
import { unusedSubnet } from './private-subnet.js';

export interface DockerEngine {
  /** Unix socket of the engine's API. */
  socketPath: string;
  /** The engine's version, from GET /version. */
  version: string;
  /** True when this call started the daemon. */
  started: boolean;
}

export interface DockerdOptions {
  /** Where a started daemon keeps its log and pid file. */
  stateDir: string;
  readyTimeoutMs?: number;
}

/** GET /version on the engine's socket; undefined when nothing answers. */
export function engineVersion(socketPath: string, timeoutMs = 2000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/version', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 ? String((JSON.parse(body) as { Version?: unknown }).Version) : undefined);
        } catch {
          resolve(undefined);
        }
      });
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

function pidFile(stateDir: string): string {
  return join(stateDir, 'dockerd.pid');
}

function logFile(stateDir: string): string {
  return join(stateDir, 'dockerd.log');
}

async function logTail(path: string, lines = 15): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Starts dockerd with `args` (log and pid file under `stateDir`) and waits until `socketPath` answers. */
async function spawnDockerd(stateDir: string, socketPath: string, args: readonly string[], readyTimeoutMs = 60_000): Promise<string> {
  const dockerd = requireExecutable('dockerd', 'docker.io');
  if (process.getuid?.() !== 0) {
    throw new McpWarmError('DOCKER_UNAVAILABLE', `no Docker engine answers on ${socketPath}, and starting dockerd needs root`, { details: { socketPath } });
  }
  await mkdir(stateDir, { recursive: true });
  const log = logFile(stateDir);
  const fd = openSync(log, 'a');
  try {
    const child = spawn(dockerd, ['--host', `unix://${socketPath}`, '--pidfile', pidFile(stateDir), ...args], {
      stdio: ['ignore', fd, fd],
      detached: true,
    });
    child.on('error', () => undefined);
    child.unref();
  } finally {
    closeSync(fd);
  }
  const deadline = Date.now() + readyTimeoutMs;
  while (Date.now() < deadline) {
    const version = await engineVersion(socketPath);
    if (version !== undefined) return version;
    await sleep(100);
  }
  throw new McpWarmError('DOCKER_UNAVAILABLE', `dockerd did not answer on ${socketPath} in time; log ${log}:\n${await logTail(log)}`, {
    details: { socketPath, log },
  });
}

/** The running Docker engine, started first if none answers. */
export async function ensureDockerd(options: DockerdOptions): Promise<DockerEngine> {
  const socketPath = dockerSocketPath();
  const running = await engineVersion(socketPath);
  if (running !== undefined) return { socketPath, version: running, started: false };
  if (process.env.DOCKER_HOST) {
    throw new McpWarmError('DOCKER_UNAVAILABLE', `no Docker engine answers on ${socketPath} (DOCKER_HOST)`, { details: { socketPath } });
  }
  const version = await spawnDockerd(options.stateDir, socketPath, [], options.readyTimeoutMs);
  return { socketPath, version, started: true };
}

export interface PrivateDockerEngine extends DockerEngine {
  /** Stops the daemon and removes everything it stored. */
  stop(): Promise<void>;
}

/** A /24 in 10.231.0.0/16 that no route of the machine's covers. */
async function bridgeSubnet(): Promise<number> {
  const third = await unusedSubnet();
  if (third === undefined) throw new McpWarmError('DOCKER_UNAVAILABLE', 'no free /24 in 10.231.0.0/16 for a private Docker engine\'s bridge');
  return third;
}

/**
 * A second engine with storage of its own under `dir`, empty at the start: what a freshly made
 * node has, with no layer of any image present. It runs beside the machine's engine: it gets a
 * bridge of its own (dockerd without one would delete the other engine's docker0) and leaves
 * iptables alone, so its containers reach nothing beyond the bridge.
 */
export async function startPrivateDockerd(dir: string, readyTimeoutMs?: number): Promise<PrivateDockerEngine> {
  const socketPath = join(dir, 'docker.sock');
  const bridge = `mcpw${basename(dir).replace(/[^a-z0-9]/gi, '').slice(-11)}`;
  let bridgeMade = false;
  const stop = async (): Promise<void> => {
    await stopDockerd(dir);
    // A daemon killed mid-way can leave its containers' overlay and netns mounts behind.
    await unmountUnder(dir);
    await rm(dir, { recursive: true, force: true });
    if (bridgeMade) await run('ip', ['link', 'del', bridge]).catch(() => undefined);
  };
  try {
    requireExecutable('ip', 'iproute2');
    const third = await bridgeSubnet();
    await run('ip', ['link', 'add', 'name', bridge, 'type', 'bridge']);
    bridgeMade = true;
    await run('ip', ['addr', 'add', `10.231.${third}.1/24`, 'dev', bridge]);
    await run('ip', ['link', 'set', bridge, 'up']);
    const args = ['--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--bridge', bridge, '--iptables=false', '--ip-masq=false'];
    const version = await spawnDockerd(dir, socketPath, args, readyTimeoutMs);
    return { socketPath, version, started: true, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startedPid(stateDir: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(pidFile(stateDir), 'utf8')).trim());
    if (!Number.isInteger(pid) || pid <= 0 || !isProcessAlive(pid)) return undefined;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.split('\0')[0]?.endsWith('dockerd') ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Stops a dockerd that ensureDockerd started from this state directory; false when there was none. */
export async function stopDockerd(stateDir: string, timeoutMs = 30_000): Promise<boolean> {
  const pid = await startedPid(stateDir);
  if (pid === undefined) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      break;
    }
    await sleep(100);
  }
  await rm(pidFile(stateDir), { force: true });
  return true;
}

export interface DockerdStatus {
  socketPath: string;
  answering: boolean;
  version?: string;
  /** Pid of a dockerd this state directory started, if it runs. */
  pid?: number;
}

export async function dockerdStatus(stateDir: string): Promise<DockerdStatus> {
  const socketPath = dockerSocketPath();
  const [version, pid] = await Promise.all([engineVersion(socketPath), startedPid(stateDir)]);
  return { socketPath, answering: version !== undefined, ...(version !== undefined ? { version } : {}), ...(pid !== undefined ? { pid } : {}) };
}

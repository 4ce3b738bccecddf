/**
 * The proxy's options: what startProxy and `mcpwarm proxy` take, with their defaults, checked all
 * at once (USAGE_INVALID lists every problem).
 */
import { McpWarmError } from '../errors.js';
import { STRATEGY_NAMES, type StrategyName } from './strategy.js';

export type BackendSpec =
  /** A local stdio server: the command runs once per backend. */
  | { kind: 'stdio'; command: string; args: string[]; env?: NodeJS.ProcessEnv; cwd?: string }
  /** Activations of `image` on the pool controller at `controller`. */
  | { kind: 'pool'; controller: string; image: string; token?: string };

export interface ProxyOptions {
  strategy: StrategyName;
  backend: BackendSpec;
  /** P-RARD's pool size (default 2). */
  backends?: number;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Requests that may wait for a backend (default 100). */
  maxQueue?: number;
  /** Open sessions at most; with per-session, live backends at most (default 100). */
  maxSessions?: number;
  /** From arrival to answer, queue time included (default 60 s). */
  requestTimeoutMs?: number;
  /** A session with nothing in flight and no request for this long is ended (default 5 min). */
  idleTimeoutMs?: number;
  /** Request bodies at most (default 4 MiB). */
  maxBodyBytes?: number;
  /** How long a backend may take to answer initialize (default 30 s). */
  readinessTimeoutMs?: number;
  /** From closing a backend's stdin to SIGKILL (default 2 s). */
  stopGraceMs?: number;
  /** Per-session, 2026-07-28: requests with the same value of this header share a backend. */
  sessionKeyHeader?: string;
  /** Human log lines (backend crashes, restarts); default: none. */
  log?: (line: string) => void;
}

export type ResolvedProxyOptions = Required<Omit<ProxyOptions, 'sessionKeyHeader'>> & Pick<ProxyOptions, 'sessionKeyHeader'>;

export const PROXY_DEFAULTS = {
  backends: 2,
  host: '127.0.0.1',
  port: 0,
  maxQueue: 100,
  maxSessions: 100,
  requestTimeoutMs: 60_000,
  idleTimeoutMs: 300_000,
  maxBodyBytes: 4 * 1024 * 1024,
  readinessTimeoutMs: 30_000,
  stopGraceMs: 2000,
} as const;

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function wholeNumber(value: number, min: number, max = Number.MAX_SAFE_INTEGER): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

/** Every problem with `options`, as `--flag: what is wrong`. */
export function proxyOptionProblems(options: ProxyOptions): string[] {
  const problems: string[] = [];
  const need = (ok: boolean, problem: string) => {
    if (!ok) problems.push(problem);
  };
  need((STRATEGY_NAMES as readonly string[]).includes(options.strategy), `--strategy: expected one of ${STRATEGY_NAMES.join(', ')}, not ${JSON.stringify(options.strategy)}`);
  if (options.backends !== undefined) {
    need(options.strategy === 'p-rard', `--backends: only p-rard has a pool of backends (${options.strategy} decides its own)`);
    need(wholeNumber(options.backends, 1, 256), '--backends: expected a whole number from 1 to 256');
  }
  if (options.sessionKeyHeader !== undefined) {
    need(options.strategy === 'per-session', '--session-key-header: only per-session keys backends by client');
    need(HEADER_NAME.test(options.sessionKeyHeader), '--session-key-header: expected an HTTP header name');
  }
  const numbers: Array<[string, number | undefined, number, number?]> = [
    ['--port', options.port, 0, 65_535],
    ['--max-queue', options.maxQueue, 0],
    ['--max-sessions', options.maxSessions, 1],
    ['--request-timeout', options.requestTimeoutMs, 1],
    ['--idle-timeout', options.idleTimeoutMs, 1],
    ['--max-body', options.maxBodyBytes, 1],
    ['--readiness-timeout', options.readinessTimeoutMs, 1],
    ['--stop-grace', options.stopGraceMs, 0],
  ];
  for (const [flag, value, min, max] of numbers) {
    if (value !== undefined) need(wholeNumber(value, min, max), `${flag}: expected a whole number from ${min}${max === undefined ? ' up' : ` to ${max}`}, not ${value}`);
  }
  need(options.host === undefined || options.host.trim() !== '', '--host: expected an address');
  const backend = options.backend;
  if (backend.kind === 'stdio') {
    need(backend.command.trim() !== '', 'the command after -- is empty');
  } else {
    need(backend.image.trim() !== '', '--image: expected an image reference');
    let url: URL | undefined;
    try {
      url = new URL(backend.controller);
    } catch {
      url = undefined;
    }
    need(url !== undefined && (url.protocol === 'http:' || url.protocol === 'https:'), `--controller: expected an http(s) URL, not ${JSON.stringify(backend.controller)}`);
  }
  return problems;
}

export function resolveProxyOptions(options: ProxyOptions): ResolvedProxyOptions {
  const problems = proxyOptionProblems(options);
  if (problems.length > 0) throw new McpWarmError('USAGE_INVALID', problems.join('; '), { details: { problems } });
  const d = PROXY_DEFAULTS;
  return {
    strategy: options.strategy,
    backend: options.backend,
    backends: options.backends ?? d.backends,
    host: options.host ?? d.host,
    port: options.port ?? d.port,
    maxQueue: options.maxQueue ?? d.maxQueue,
    maxSessions: options.maxSessions ?? d.maxSessions,
    requestTimeoutMs: options.requestTimeoutMs ?? d.requestTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs ?? d.idleTimeoutMs,
    maxBodyBytes: options.maxBodyBytes ?? d.maxBodyBytes,
    readinessTimeoutMs: options.readinessTimeoutMs ?? d.readinessTimeoutMs,
    stopGraceMs: options.stopGraceMs ?? d.stopGraceMs,
    log: options.log ?? (() => undefined),
    ...(options.sessionKeyHeader !== undefined ? { sessionKeyHeader: options.sessionKeyHeader } : {}),
  };
}

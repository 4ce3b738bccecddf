/**
 * What `bench strategies` measures, each a gateway run as its own process in front of the same
 * stdio server: `mcpwarm proxy` in each strategy, and supergateway (npm) in its stateful and
 * stateless Streamable HTTP modes. One definition per target; the benchmark only starts them,
 * calls their MCP endpoint and stops them.
 *
 * The server's command line ends with a marker argument unique to the target's start, so its
 * server processes are found in its process tree, and any a stopped gateway left are found
 * anywhere and killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { McpWarmError } from '../../runner/errors.js';
import { MCP_PATH } from '../../runner/proxy/proxy.js';
import type { StrategyName } from '../../runner/proxy/strategy.js';
import { AGENT_CWD, defaultAgentCommand } from '../../runner/substrates/process/agent-process.js';
import { freePort } from '../cluster/local-registry.js';
import { processesCarrying } from './process-tree.js';

export const TARGET_NAMES = ['s-rard', 'p-rard', 'per-session', 'supergateway-stateful', 'supergateway-stateless'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export interface TargetContext {
  /** The stdio server's argv; its last argument is the marker. */
  server: readonly string[];
  marker: string;
  /** P-RARD's pool size. */
  backends: number;
  startTimeoutMs: number;
}

export interface RunningTarget {
  /** The MCP Streamable HTTP endpoint. */
  endpoint: string;
  /** The gateway process: the root of the tree whose memory and servers are counted. */
  pid: number;
  /** Stops the gateway and anything it left carrying the marker; idempotent. */
  stop(): Promise<void>;
}

export interface TargetDefinition {
  name: TargetName;
  label: string;
  /** Whose gateway it is: the comparisons set the best of each family side by side. */
  family: 'proxy' | 'supergateway';
  /**
   * Whether the added-latency phase samples it: not for a gateway that starts a server for every
   * request, whose calls take the server's start-up (measured in the load phase all the same).
   */
  interleaved: boolean;
  start(context: TargetContext): Promise<RunningTarget>;
}

const STOP_GRACE_MS = 10_000;

function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function quoteForShell(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** A gateway child process: its stderr kept (the tail quoted in errors), stopped with SIGTERM then SIGKILL. */
function spawnGateway(argv: readonly string[], marker: string): { child: ChildProcess; stderr: () => string; exited: Promise<string>; stop: () => Promise<void> } {
  // stdin ignored: supergateway stops when a pipe on its stdin closes.
  const child = spawn(argv[0]!, argv.slice(1), { cwd: AGENT_CWD, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-16_384)));
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ?? `exit code ${code}`));
    child.once('error', (error) => resolve(error.message));
  });
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const gone = await Promise.race([exited.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
        if (!gone) {
          child.kill('SIGKILL');
          await exited;
        }
      }
      // Servers the gateway did not stop (it was killed, or it lets them finish on their own).
      for (const pid of await processesCarrying(marker)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    })());
  return { child, stderr: () => stderr, exited, stop };
}

async function failedStart(what: string, gateway: ReturnType<typeof spawnGateway>, why: string): Promise<never> {
  await gateway.stop();
  throw new McpWarmError('SERVICE_UNREACHABLE', `${what} did not start: ${why}\n${tail(gateway.stderr())}`);
}

/** `mcpwarm proxy` from this checkout (the compiled CLI, or the sources through tsx when run from them). */
function proxyTarget(strategy: StrategyName, label: string): TargetDefinition {
  return {
    name: strategy,
    label,
    family: 'proxy',
    interleaved: true,
    async start(context) {
      // The agent's command is this checkout's `mcpwarm agent`: the same program, another subcommand.
      const mcpwarm = defaultAgentCommand().slice(0, -1);
      const argv = [...mcpwarm, 'proxy', '--strategy', strategy, ...(strategy === 'p-rard' ? ['--backends', String(context.backends)] : []), '--port', '0', '--', ...context.server];
      const gateway = spawnGateway(argv, context.marker);
      const deadline = Date.now() + context.startTimeoutMs;
      for (;;) {
        const url = /listening on (http:\/\/\S+)/.exec(gateway.stderr())?.[1];
        if (url) return { endpoint: `${url}${MCP_PATH}`, pid: gateway.child.pid!, stop: gateway.stop };
        if (gateway.child.exitCode !== null || gateway.child.signalCode !== null) return failedStart(`mcpwarm proxy --strategy ${strategy}`, gateway, await gateway.exited);
        if (Date.now() > deadline) return failedStart(`mcpwarm proxy --strategy ${strategy}`, gateway, `not listening after ${context.startTimeoutMs} ms`);
        await sleep(20);
      }
    },
  };
}

function supergatewayPackage(): string {
  try {
    return createRequire(import.meta.url).resolve('supergateway/package.json');
  } catch (error) {
    throw new McpWarmError('TOOL_MISSING', 'supergateway is not installed', { cause: error, hint: 'npm ci installs it (a devDependency of mcpwarm)' });
  }
}

export function supergatewayVersion(): string {
  return (JSON.parse(readFileSync(supergatewayPackage(), 'utf8')) as { version: string }).version;
}

/** supergateway 4 in front of the server over Streamable HTTP; logging off, as in production (its info level logs every message). */
function supergatewayTarget(name: TargetName, label: string, modeFlags: string[], interleaved: boolean): TargetDefinition {
  return {
    name,
    label,
    family: 'supergateway',
    interleaved,
    async start(context) {
      const port = await freePort();
      const argv = [
        process.execPath,
        join(dirname(supergatewayPackage()), 'dist', 'index.js'),
        '--stdio',
        context.server.map(quoteForShell).join(' '),
        '--outputTransport',
        'streamableHttp',
        '--port',
        String(port),
        '--logLevel',
        'none',
        '--healthEndpoint',
        '/healthz',
        ...modeFlags,
      ];
      const gateway = spawnGateway(argv, context.marker);
      const base = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + context.startTimeoutMs;
      for (;;) {
        const ready = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) }).then(
          async (res) => (await res.text(), res.ok),
          () => false,
        );
        if (ready) return { endpoint: `${base}/mcp`, pid: gateway.child.pid!, stop: gateway.stop };
        if (gateway.child.exitCode !== null || gateway.child.signalCode !== null) return failedStart(label, gateway, await gateway.exited);
        if (Date.now() > deadline) return failedStart(label, gateway, `${base}/healthz did not answer within ${context.startTimeoutMs} ms`);
        await sleep(50);
      }
    },
  };
}

export const TARGETS: Record<TargetName, TargetDefinition> = {
  's-rard': proxyTarget('s-rard', 'proxy s-rard'),
  'p-rard': proxyTarget('p-rard', 'proxy p-rard'),
  'per-session': proxyTarget('per-session', 'proxy per-session'),
  // Sessions idle out after 10 minutes: longer than any run, so none ends during one.
  'supergateway-stateful': supergatewayTarget('supergateway-stateful', 'supergateway --stateful', ['--stateful', '--sessionTimeout', '600000'], true),
  'supergateway-stateless': supergatewayTarget('supergateway-stateless', 'supergateway stateless', [], false),
};

/** The fixture MCP server of this checkout (the benchmark runs from the sources or from dist/). */
export function fixtureServerPath(): string {
  for (const root of ['../../', '../../../']) {
    const path = fileURLToPath(new URL(`${root}scenarios/fixtures/mcp-fixture-server/server.mjs`, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new McpWarmError('USAGE_INVALID', 'the fixture MCP server (scenarios/fixtures/mcp-fixture-server/server.mjs) is not in this checkout');
}

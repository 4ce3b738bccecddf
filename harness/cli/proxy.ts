import type { Argv, CommandModule } from 'yargs';
import { loadToken } from '../../runner/agent/access.js';
import { parseByteSize } from '../../runner/byte-size.js';
import { McpWarmError } from '../../runner/errors.js';
import { PROXY_DEFAULTS, type BackendSpec } from '../../runner/proxy/options.js';
import { startProxy } from '../../runner/proxy/proxy.js';
import { STRATEGY_NAMES, type StrategyName } from '../../runner/proxy/strategy.js';
import { handler, printJson, say, type JsonFlag } from './output.js';

interface ProxyArgs extends JsonFlag {
  strategy: StrategyName;
  backends?: number;
  port: number;
  host: string;
  maxQueue: number;
  maxSessions: number;
  requestTimeout: number;
  idleTimeout: number;
  maxBody: string;
  readinessTimeout: number;
  stopGrace: number;
  sessionKeyHeader?: string;
  image?: string;
  controller?: string;
  tokenFile?: string;
  '--'?: Array<string | number>;
}

/** The backends: the command after `--`, or the pool (--image and --controller), never both. */
async function backendSpec(argv: ProxyArgs): Promise<BackendSpec> {
  const command = (argv['--'] ?? []).map(String);
  const pool = argv.image !== undefined || argv.controller !== undefined;
  if (pool && command.length > 0) throw new McpWarmError('USAGE_INVALID', 'give either a command after -- or --image with --controller, not both');
  if (!pool) {
    if (command.length === 0) throw new McpWarmError('USAGE_INVALID', 'give the stdio MCP server to run after --, e.g. -- npx -y @modelcontextprotocol/server-everything');
    return { kind: 'stdio', command: command[0]!, args: command.slice(1) };
  }
  if (argv.image === undefined || argv.controller === undefined) throw new McpWarmError('USAGE_INVALID', '--image and --controller go together');
  const token = await loadToken(argv.tokenFile);
  return { kind: 'pool', controller: argv.controller, image: argv.image, ...(token !== undefined ? { token } : {}) };
}

export const proxyCommand: CommandModule<object, ProxyArgs> = {
  command: 'proxy',
  describe: 'Serve stdio MCP servers as MCP Streamable HTTP at /mcp, scaled by S-RARD, P-RARD or a server per session',
  builder: (yargs: Argv) =>
    yargs
      .parserConfiguration({ 'populate--': true })
      .usage('$0 proxy --strategy s-rard|p-rard|per-session [options] -- CMD ARGS...\n$0 proxy --strategy ... --image REF --controller URL [--token-file F]')
      .option('strategy', { choices: [...STRATEGY_NAMES], demandOption: true, describe: 'How backends are shared' })
      .option('backends', { type: 'number', describe: `P-RARD's pool size (default ${PROXY_DEFAULTS.backends})` })
      .option('port', { type: 'number', default: 8070, describe: 'Port to listen on (0: any free port)' })
      .option('host', { type: 'string', default: PROXY_DEFAULTS.host, describe: 'Address to bind' })
      .option('max-queue', { type: 'number', default: PROXY_DEFAULTS.maxQueue, describe: 'Requests that may wait for a backend; beyond, 503 with Retry-After' })
      .option('max-sessions', { type: 'number', default: PROXY_DEFAULTS.maxSessions, describe: 'Open sessions at most (per-session: live backends); beyond, 503' })
      .option('request-timeout', { type: 'number', default: PROXY_DEFAULTS.requestTimeoutMs, describe: 'ms from arrival to answer, queue time included' })
      .option('idle-timeout', { type: 'number', default: PROXY_DEFAULTS.idleTimeoutMs, describe: 'ms without a request before a session (and its own backend) ends' })
      .option('max-body', { type: 'string', default: '4Mi', describe: 'Request body limit (413 beyond)' })
      .option('readiness-timeout', { type: 'number', default: PROXY_DEFAULTS.readinessTimeoutMs, describe: 'ms for a backend to answer initialize' })
      .option('stop-grace', { type: 'number', default: PROXY_DEFAULTS.stopGraceMs, describe: 'ms from closing a backend stdin to SIGKILL' })
      .option('session-key-header', { type: 'string', describe: 'per-session, MCP 2026-07-28: requests with the same value of this header share a backend' })
      .option('image', { type: 'string', describe: 'Take backends from the warm pool: the image to activate' })
      .option('controller', { type: 'string', describe: 'The pool controller URL (with --image)' })
      .option('token-file', { type: 'string', describe: "File holding the controller's bearer token (else $MCPWARM_TOKEN)" })
      .option('json', { type: 'boolean', default: false, describe: 'Print {url, strategy, backend} on stdout once listening' }) as unknown as Argv<ProxyArgs>,
  handler: handler(async (argv: ProxyArgs) => {
    const proxy = await startProxy({
      strategy: argv.strategy,
      backend: await backendSpec(argv),
      ...(argv.backends !== undefined ? { backends: argv.backends } : {}),
      host: argv.host,
      port: argv.port,
      maxQueue: argv.maxQueue,
      maxSessions: argv.maxSessions,
      requestTimeoutMs: argv.requestTimeout,
      idleTimeoutMs: argv.idleTimeout,
      maxBodyBytes: parseByteSize(argv.maxBody, '--max-body'),
      readinessTimeoutMs: argv.readinessTimeout,
      stopGraceMs: argv.stopGrace,
      ...(argv.sessionKeyHeader !== undefined ? { sessionKeyHeader: argv.sessionKeyHeader } : {}),
      log: (line) => say(`proxy: ${line}`),
    });
    say(`proxy listening on ${proxy.url} (strategy ${proxy.strategy}, ${proxy.backend}); MCP endpoint ${proxy.url}/mcp`);
    if (argv.json) printJson({ url: proxy.url, mcp: `${proxy.url}/mcp`, strategy: proxy.strategy, backend: proxy.backend });
    await new Promise<void>((resolve) => {
      const shutdown = (signal: string) => {
        say(`${signal}: stopping every backend`);
        void proxy.close().then(resolve);
      };
      process.once('SIGINT', () => shutdown('SIGINT'));
      process.once('SIGTERM', () => shutdown('SIGTERM'));
    });
  }),
};

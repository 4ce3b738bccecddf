import type { Argv, CommandModule } from 'yargs';
import { loadToken } from '../../runner/agent/access.js';
import { parseInjectedDelay } from '../../runner/agent/activation.js';
import { startAgent } from '../../runner/agent/agent.js';
import { INSECURE_REGISTRIES_ENV, insecureRegistriesFromEnv, parseInsecureRegistries } from '../../runner/oci/insecure-registries.js';
import { handler, say, type JsonFlag } from './output.js';
import { defaultCacheDir } from './paths.js';

interface AgentArgs extends JsonFlag {
  port: number;
  host: string;
  cache?: string;
  cacheSize?: string;
  sandbox: 'auto' | 'runc' | 'bwrap' | 'chroot' | 'none';
  tokenFile?: string;
  insecureNoAuth: boolean;
  allow: string[];
  insecureRegistry: string[];
  auditLog?: string;
  readinessTimeoutMs: number;
  injectDelayMs?: string;
}

export const agentCommand: CommandModule<object, AgentArgs> = {
  command: 'agent',
  describe: 'Run the runner agent: activates images as sandboxed MCP servers over an HTTP API',
  builder: (yargs: Argv) =>
    yargs
      .option('port', { type: 'number', default: 8080, describe: 'Port to listen on (0: any free port)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to bind' })
      .option('cache', { type: 'string', describe: 'Image cache directory (default $MCPWARM_HOME/cache)' })
      .option('cache-size', { type: 'string', describe: 'Cache budget such as 10Gi (default IMAGE_CACHE_SIZE, else 10Gi)' })
      .option('sandbox', { choices: ['auto', 'runc', 'bwrap', 'chroot', 'none'] as const, default: 'auto' as const, describe: 'auto: the strongest available' })
      .option('token-file', { type: 'string', describe: 'File holding the bearer token (else $MCPWARM_TOKEN)' })
      .option('insecure-no-auth', { type: 'boolean', default: false, describe: 'Serve without a token (loopback --host only)' })
      .option('allow', { type: 'string', array: true, default: [] as string[], describe: 'Allowed images: registry/repository globs or sha256 digests' })
      .option('insecure-registry', {
        type: 'string',
        array: true,
        default: [] as string[],
        describe: `Pull from this registry (HOST[:PORT]) over plain HTTP although it is not on loopback; repeatable, added to $${INSECURE_REGISTRIES_ENV}`,
      })
      .option('audit-log', { type: 'string', describe: 'Append one JSON line per activation, deletion and refusal' })
      .option('readiness-timeout-ms', { type: 'number', default: 30_000, describe: 'Default time for a server to answer initialize' })
      .option('inject-delay-ms', {
        type: 'string',
        describe: "Add a delay to every activation, to measure a regression gate: N ms, or N% of the activation's own time (phase injectedDelayMs)",
      }) as unknown as Argv<AgentArgs>,
  handler: handler(async (argv: AgentArgs) => {
    const injectDelay = argv.injectDelayMs === undefined ? undefined : parseInjectedDelay(argv.injectDelayMs);
    const token = await loadToken(argv.tokenFile);
    const insecureRegistries = [...insecureRegistriesFromEnv(), ...parseInsecureRegistries(argv.insecureRegistry, '--insecure-registry')];
    const agent = await startAgent({
      host: argv.host,
      port: argv.port,
      cacheDir: argv.cache ?? defaultCacheDir(),
      ...(argv.cacheSize ? { cacheBudget: argv.cacheSize } : {}),
      sandbox: argv.sandbox,
      ...(token !== undefined ? { token } : {}),
      insecureNoAuth: argv.insecureNoAuth,
      allow: argv.allow,
      insecureRegistries,
      ...(argv.auditLog ? { auditLogPath: argv.auditLog } : {}),
      readinessTimeoutMs: argv.readinessTimeoutMs,
      ...(injectDelay ? { injectDelay } : {}),
    });
    say(`agent listening on ${agent.url} (sandbox ${agent.sandbox}${token === undefined ? ', NO AUTH' : ''})`);
    if (insecureRegistries.length > 0) say(`plain HTTP allowed to the registries ${[...new Set(insecureRegistries)].join(', ')}`);
    await new Promise<void>((resolve) => {
      const shutdown = (signal: string) => {
        say(`${signal}: stopping every instance`);
        void agent.close().then(resolve);
      };
      process.once('SIGINT', () => shutdown('SIGINT'));
      process.once('SIGTERM', () => shutdown('SIGTERM'));
    });
  }),
};

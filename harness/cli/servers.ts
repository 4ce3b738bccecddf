import type { Argv, CommandModule } from 'yargs';
import { loadToken } from '../../runner/agent/access.js';
import { McpWarmError } from '../../runner/errors.js';
import { callJson, errorFromAnswer } from '../../runner/http-json.js';
import { handler, printJson, say, type JsonFlag } from './output.js';

interface ServersArgs extends JsonFlag {
  action: 'list' | 'status' | 'start' | 'stop' | 'scale';
  name?: string;
  replicas?: number;
  controller: string;
  tokenFile?: string;
  force: boolean;
  timeoutMs?: number;
}

interface ServerStatusView {
  name: string;
  image: string;
  status: string;
  replicas: number;
  readyReplicas: number;
  activations: Array<{ endpoint: string }>;
}

export const serversCommand: CommandModule<object, ServersArgs> = {
  command: 'servers <action> [name] [replicas]',
  describe: "Named MCP servers on a controller: list, status NAME, start NAME, stop NAME [--force], scale NAME N",
  builder: (yargs: Argv) =>
    yargs
      .positional('action', { choices: ['list', 'status', 'start', 'stop', 'scale'] as const, demandOption: true })
      .positional('name', { type: 'string' })
      .positional('replicas', { type: 'number' })
      .option('controller', { type: 'string', default: 'http://127.0.0.1:8090', describe: 'Controller URL' })
      .option('token-file', { type: 'string', describe: 'File holding the bearer token (else $MCPWARM_TOKEN)' })
      .option('force', { type: 'boolean', default: false, describe: 'stop: skip the graceful stop' })
      .option('timeout-ms', { type: 'number', describe: 'start: how long to wait until ready' })
      .option('json', { type: 'boolean', default: false }) as unknown as Argv<ServersArgs>,
  handler: handler(async (argv: ServersArgs) => {
    if (argv.action !== 'list' && !argv.name) throw new McpWarmError('USAGE_INVALID', `servers ${argv.action} needs a server name`);
    if (argv.action === 'scale' && argv.replicas === undefined) throw new McpWarmError('USAGE_INVALID', 'servers scale needs a replica count');
    const token = await loadToken(argv.tokenFile);
    const path = argv.action === 'list' ? '/servers' : `/servers/${encodeURIComponent(argv.name!)}${argv.action === 'status' ? '' : `/${argv.action}`}`;
    const body = argv.action === 'scale' ? { replicas: argv.replicas } : argv.action === 'stop' ? { force: argv.force } : argv.action === 'start' && argv.timeoutMs ? { timeoutMs: argv.timeoutMs } : undefined;
    const { status, json } = await callJson(new URL(path, argv.controller), {
      method: argv.action === 'list' || argv.action === 'status' ? 'GET' : 'POST',
      ...(token ? { token } : {}),
      body,
      unreachable: { code: 'SERVICE_UNREACHABLE', what: 'the controller' },
    });
    if (json.error) throw errorFromAnswer(json.error, status);
    const answer = json as Partial<ServerStatusView> & { servers?: ServerStatusView[] };
    for (const server of answer.servers ?? [answer as ServerStatusView]) {
      say(`${server.name.padEnd(24)} ${server.status.padEnd(8)} ${server.readyReplicas}/${server.replicas} ready  ${server.image}`);
    }
    if (argv.json) printJson(answer);
  }),
};

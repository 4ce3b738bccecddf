import type { Argv, CommandModule } from 'yargs';
import { McpWarmError } from '../../runner/errors.js';
import { callJson, errorFromAnswer } from '../../runner/http-json.js';
import { loadToken } from '../../runner/agent/access.js';
import type { InstanceInfo } from '../../runner/agent/instance.js';
import { handler, ms, printJson, say, type JsonFlag } from './output.js';

interface ActivateArgs extends JsonFlag {
  agent: string;
  image: string;
  tokenFile?: string;
  entrypoint?: string[];
  command?: string[];
  env: string[];
  toolsList: boolean;
  timeoutMs?: number;
}

export const activateCommand: CommandModule<object, ActivateArgs> = {
  command: 'activate <image>',
  describe: 'Ask a runner agent to activate an image; prints the instance and its phases',
  builder: (yargs: Argv) =>
    yargs
      .positional('image', { type: 'string', demandOption: true })
      .option('agent', { type: 'string', demandOption: true, describe: 'Agent URL, e.g. http://127.0.0.1:8080' })
      .option('token-file', { type: 'string', describe: 'File holding the bearer token (else $MCPWARM_TOKEN)' })
      .option('entrypoint', { type: 'string', array: true, describe: 'Override the image Entrypoint' })
      .option('command', { type: 'string', array: true, describe: 'Override the image Cmd' })
      .option('env', { type: 'string', array: true, default: [] as string[], describe: 'KEY=VALUE, repeatable' })
      .option('tools-list', { type: 'boolean', default: false, describe: 'Ready only after tools/list answered too' })
      .option('timeout-ms', { type: 'number', describe: 'Time for the server to answer initialize' })
      .option('json', { type: 'boolean', default: false }) as unknown as Argv<ActivateArgs>,
  handler: handler(async (argv: ActivateArgs) => {
    const token = await loadToken(argv.tokenFile);
    const env = Object.fromEntries(
      argv.env.map((item) => {
        const at = item.indexOf('=');
        if (at <= 0) throw new McpWarmError('USAGE_INVALID', `--env ${item}: expected KEY=VALUE`);
        return [item.slice(0, at), item.slice(at + 1)];
      }),
    );
    const body = {
      image: argv.image,
      ...(argv.entrypoint ? { entrypoint: argv.entrypoint } : {}),
      ...(argv.command ? { command: argv.command } : {}),
      ...(argv.env.length > 0 ? { env } : {}),
      readiness: { toolsList: argv.toolsList, ...(argv.timeoutMs ? { timeoutMs: argv.timeoutMs } : {}) },
    };
    const { status, json } = await callJson(new URL('/activate', argv.agent), {
      method: 'POST',
      ...(token ? { token } : {}),
      body,
      unreachable: { code: 'SERVICE_UNREACHABLE', what: 'the agent' },
    });
    if (json.error) throw errorFromAnswer(json.error, status);
    const answer = json as InstanceInfo;
    const p = answer.phases;
    say(`${answer.instanceId}: ${answer.image.ref} (${answer.image.digest.slice(0, 19)}) in ${answer.sandbox}, pid ${answer.pid}`);
    say(`  ready in ${ms(p.totalMs)}: resolve ${ms(p.resolveMs)}, pull ${ms(p.pullMs)}, unpack ${ms(p.unpackMs)}, mount ${ms(p.mountMs)}, start ${ms(p.startMs)}, initialize ${ms(p.initializeMs)}`);
    say(`  layers ${answer.cache.layersHit} cached, ${answer.cache.layersMissed} pulled; MCP endpoint ${new URL(answer.endpoint, argv.agent).href}`);
    if (argv.json) printJson(answer);
  }),
};

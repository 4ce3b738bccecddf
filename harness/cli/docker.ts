import type { Argv, CommandModule } from 'yargs';
import { dockerdStatus, ensureDockerd, stopDockerd } from '../cluster/dockerd.js';
import { handler, printJson, say, type JsonFlag } from './output.js';
import { defaultDockerdDir } from './paths.js';

interface DockerArgs extends JsonFlag {
  action: 'up' | 'down' | 'status';
}

export const dockerCommand: CommandModule<object, DockerArgs> = {
  command: 'docker <action>',
  describe: 'Run the Docker engine the docker substrate and benchmarks use: up, down or status',
  builder: (yargs: Argv) =>
    yargs
      .positional('action', { choices: ['up', 'down', 'status'] as const, demandOption: true })
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout' }) as Argv<DockerArgs>,
  handler: handler(async (argv: DockerArgs) => {
    const stateDir = defaultDockerdDir();
    if (argv.action === 'up') {
      const engine = await ensureDockerd({ stateDir });
      say(`Docker engine ${engine.version} ${engine.started ? 'started' : 'already running'} on ${engine.socketPath}`);
      if (argv.json) printJson(engine);
    } else if (argv.action === 'down') {
      const stopped = await stopDockerd(stateDir);
      say(stopped ? 'dockerd stopped' : 'no dockerd started by mcpwarm is running');
      if (argv.json) printJson({ stopped });
    } else {
      const status = await dockerdStatus(stateDir);
      say(status.answering ? `Docker engine ${status.version} answering on ${status.socketPath}` : `no Docker engine answers on ${status.socketPath}`);
      if (argv.json) printJson(status);
      if (!status.answering) process.exitCode = 1;
    }
  }),
};

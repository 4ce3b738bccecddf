import type { Argv, CommandModule } from 'yargs';
import { localRegistryStatus, startLocalRegistry, stopLocalRegistry } from '../cluster/local-registry.js';
import { handler, printJson, say, type JsonFlag } from './output.js';
import { defaultRegistryDir } from './paths.js';

interface RegistryArgs extends JsonFlag {
  action: 'up' | 'down' | 'status';
  port: number;
  dir?: string;
}

export const registryCommand: CommandModule<object, RegistryArgs> = {
  command: 'registry <action>',
  describe: 'Run the local OCI registry (CNCF distribution) on 127.0.0.1: up, down or status',
  builder: (yargs: Argv) =>
    yargs
      .positional('action', { choices: ['up', 'down', 'status'] as const, demandOption: true })
      .option('port', { type: 'number', default: 5000, describe: 'Port on 127.0.0.1' })
      .option('dir', { type: 'string', describe: 'State directory (config, storage, log, pid); default $MCPWARM_HOME/registry-PORT' })
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout' }) as Argv<RegistryArgs>,
  handler: handler(async (argv: RegistryArgs) => {
    const dir = argv.dir ?? defaultRegistryDir(argv.port);
    if (argv.action === 'up') {
      const before = await localRegistryStatus(dir);
      if (before.running && before.answering) {
        say(`registry already running at ${before.address} (pid ${before.pid})`);
        if (argv.json) printJson(before);
        return;
      }
      const registry = await startLocalRegistry({ dir, port: argv.port, detached: true });
      say(`registry up at ${registry.address} (pid ${registry.pid}, state in ${dir})`);
      if (argv.json) printJson({ running: true, answering: true, pid: registry.pid, address: registry.address, dir });
    } else if (argv.action === 'down') {
      const stopped = await stopLocalRegistry(dir);
      say(stopped ? `registry in ${dir} stopped` : `no registry running from ${dir}`);
      if (argv.json) printJson({ stopped, dir });
    } else {
      const status = await localRegistryStatus(dir);
      say(status.running ? `registry running at ${status.address} (pid ${status.pid}), ${status.answering ? 'answering' : 'NOT answering'} /v2/` : `no registry running from ${dir}`);
      if (argv.json) printJson(status);
      if (!status.running || !status.answering) process.exitCode = 1;
    }
  }),
};

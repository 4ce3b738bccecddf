#!/usr/bin/env node
import yargs, { type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { usageExit } from './output.js';

/**
 * Every command, by name, in the order help lists them. Each module is imported only when its
 * command runs: `mcpwarm agent` (every runner) then never loads the Kubernetes client, dockerode or
 * the chart renderer that other commands need, which would more than double its memory.
 */
const COMMANDS: ReadonlyArray<readonly [string, () => Promise<CommandModule<any, any>>]> = [
  ['registry', async () => (await import('./registry.js')).registryCommand],
  ['docker', async () => (await import('./docker.js')).dockerCommand],
  ['kind', async () => (await import('./kind.js')).kindCommand],
  ['image', async () => (await import('./image.js')).imageCommand],
  ['agent', async () => (await import('./agent.js')).agentCommand],
  ['activate', async () => (await import('./activate.js')).activateCommand],
  ['controller', async () => (await import('./controller.js')).controllerCommand],
  ['servers', async () => (await import('./servers.js')).serversCommand],
  ['proxy', async () => (await import('./proxy.js')).proxyCommand],
  ['bench', async () => (await import('./bench.js')).benchCommand],
  ['report', async () => (await import('./report.js')).reportCommand],
  ['compare', async () => (await import('./compare.js')).compareCommand],
  ['gate', async () => (await import('./gate.js')).gateCommand],
];

const args = hideBin(process.argv);
// The command is the first word that is not an option (the top level has only flags without values).
const named = COMMANDS.find(([name]) => name === args.find((arg) => !arg.startsWith('-')));
// Top-level help, no command or an unknown one: every command, so help and the usage error list them all.
const commands = await Promise.all((named ? [named] : COMMANDS).map(([, load]) => load()));

const cli = yargs(args)
  .scriptName('mcpwarm')
  .usage('$0 <command> [options]\n\nWarm pool, stdio scaling proxy and benchmark harness for MCP servers.');
for (const command of commands) cli.command(command);
await cli
  .demandCommand(1)
  .strict()
  .recommendCommands()
  .help()
  .version()
  .wrap(Math.min(110, process.stderr.columns ?? 100))
  .fail((message, error) => {
    if (error) throw error;
    usageExit(message);
  })
  .parseAsync();

#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { activateCommand } from './activate.js';
import { agentCommand } from './agent.js';
import { benchCommand } from './bench.js';
import { compareCommand } from './compare.js';
import { controllerCommand } from './controller.js';
import { dockerCommand } from './docker.js';
import { gateCommand } from './gate.js';
import { imageCommand } from './image.js';
import { kindCommand } from './kind.js';
import { proxyCommand } from './proxy.js';
import { registryCommand } from './registry.js';
import { reportCommand } from './report.js';
import { serversCommand } from './servers.js';
import { usageExit } from './output.js';

await yargs(hideBin(process.argv))
  .scriptName('mcpwarm')
  .usage('$0 <command> [options]\n\nWarm pool, stdio scaling proxy and benchmark harness for MCP servers.')
  .command(registryCommand)
  .command(dockerCommand)
  .command(kindCommand)
  .command(imageCommand)
  .command(agentCommand)
  .command(activateCommand)
  .command(controllerCommand)
  .command(serversCommand)
  .command(proxyCommand)
  .command(benchCommand)
  .command(reportCommand)
  .command(compareCommand)
  .command(gateCommand)
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

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { Argv, CommandModule } from 'yargs';
import { checkKindTools, configuredWorkers, CONTROLLER_URL, inspectKind, kindTokens, planKindDown, planKindUp, runKindStep, type KindOptions } from '../cluster/kind.js';
import { openKindTarget } from '../cluster/kind-target.js';
import { handler, printJson, say, type JsonFlag } from './output.js';
import { mcpwarmHome } from './paths.js';

interface KindArgs extends JsonFlag {
  action: 'up' | 'down' | 'check';
  name: string;
  workers?: number;
}

/** The repository the CLI runs from (dist/harness/cli or harness/cli): kind-config.yaml, deploy/, scenarios/. */
const ROOT = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../' : '../../', import.meta.url));

export const kindCommand: CommandModule<object, KindArgs> = {
  command: 'kind <action>',
  describe: 'A local kind cluster with its registry and mcpwarm deployed (up), removed (down), or checked ready for scenarios (check)',
  builder: (yargs: Argv) =>
    yargs
      .positional('action', { choices: ['up', 'down', 'check'] as const, demandOption: true })
      .option('name', { type: 'string', default: 'mcpwarm', describe: 'Cluster name (kubectl context kind-NAME)' })
      .option('workers', { type: 'number', describe: 'Worker nodes (default: as kind-config.yaml has them)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout' }) as unknown as Argv<KindArgs>,
  handler: handler(async (argv: KindArgs) => {
    const stateDir = join(mcpwarmHome(), `kind-${argv.name}`);
    if (argv.action === 'check') {
      const target = await openKindTarget({ name: argv.name, stateDir });
      say(`the kind cluster ${target.name} is up and its pool ready on ${target.controllerUrl} (kubectl context ${target.context}); runners pull from ${target.registry}`);
      if (argv.json) printJson({ action: 'check', name: target.name, context: target.context, controller: target.controllerUrl, registry: target.registry });
      return;
    }
    checkKindTools();
    const baseConfig = await readFile(join(ROOT, 'kind-config.yaml'), 'utf8');
    const state = await inspectKind(argv.name);
    const workers = argv.workers ?? configuredWorkers(baseConfig);
    const options: KindOptions = { name: argv.name, workers, root: ROOT, stateDir };
    const steps = argv.action === 'up' ? planKindUp(options, state, { baseConfig, tokens: await kindTokens(stateDir) }) : planKindDown(options, state);
    const done: Array<{ title: string; ms: number }> = [];
    for (const step of steps) {
      say(`${step.title} ...`);
      const started = performance.now();
      await runKindStep(step, options);
      done.push({ title: step.title, ms: Math.round(performance.now() - started) });
    }
    if (argv.action === 'up') {
      say(`mcpwarm is ready on ${CONTROLLER_URL} (kubectl context kind-${argv.name}); its API token is in ${join(stateDir, 'tokens.json')} (api)`);
    } else {
      say(steps.length === 0 ? `no cluster ${argv.name} and no local registry to remove` : `removed the cluster ${argv.name} and the local registry`);
    }
    if (argv.json) printJson({ action: argv.action, name: argv.name, steps: done, ...(argv.action === 'up' ? { controller: CONTROLLER_URL, tokens: join(stateDir, 'tokens.json') } : {}) });
  }),
};

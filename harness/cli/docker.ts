import type { Argv, CommandModule } from 'yargs';
import { ensureRunnerImage, pruneRunnerImages } from '../../runner/substrates/docker/runner-image.js';
import { dockerSocketPath } from '../../runner/substrates/docker/engine.js';
import { dockerdStatus, ensureDockerd, stopDockerd } from '../cluster/dockerd.js';
import { handler, ms, printJson, say, type JsonFlag } from './output.js';
import { defaultDockerdDir } from './paths.js';

interface DockerArgs extends JsonFlag {
  action: 'up' | 'down' | 'status' | 'runner-image' | 'prune';
  spec?: string;
}

export const dockerCommand: CommandModule<object, DockerArgs> = {
  command: 'docker <action>',
  describe: "The Docker engine the docker substrate and benchmarks use (up, down, status), the runner image in it (runner-image), and removing other trees' runner images (prune)",
  builder: (yargs: Argv) =>
    yargs
      .positional('action', { choices: ['up', 'down', 'status', 'runner-image', 'prune'] as const, demandOption: true })
      .option('spec', { type: 'string', describe: 'runner-image, prune: the image spec (default scenarios/images/runner.image.yaml)' })
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
    } else if (argv.action === 'runner-image') {
      const socketPath = dockerSocketPath();
      say(`runner image: fingerprinting its inputs${argv.spec ? ` (${argv.spec})` : ''}; building and loading it into ${socketPath} if the engine lacks it`);
      const image = await ensureRunnerImage({ socketPath, ...(argv.spec ? { spec: argv.spec } : {}) });
      const { fingerprintMs, buildMs, loadMs } = image.phases;
      const timing = buildMs === undefined ? `already in the engine (fingerprint ${ms(fingerprintMs)})` : `built in ${ms(buildMs)} and loaded in ${ms(loadMs!)}`;
      say(`${image.tag} (${image.imageId}): ${timing}`);
      if (argv.json) printJson(image);
    } else if (argv.action === 'prune') {
      const socketPath = dockerSocketPath();
      const pruned = await pruneRunnerImages({ socketPath, ...(argv.spec ? { spec: argv.spec } : {}) });
      for (const tag of pruned.removed) say(`removed ${tag}`);
      for (const { tag, reason } of pruned.kept) say(`kept ${tag}: ${reason}`);
      say(`${pruned.removed.length} runner image tag(s) removed, ${pruned.kept.length} kept in use; this tree's ${pruned.current} is left alone`);
      if (argv.json) printJson(pruned);
    } else {
      const status = await dockerdStatus(stateDir);
      say(status.answering ? `Docker engine ${status.version} answering on ${status.socketPath}` : `no Docker engine answers on ${status.socketPath}`);
      if (argv.json) printJson(status);
      if (!status.answering) process.exitCode = 1;
    }
  }),
};

import type { Argv, CommandModule } from 'yargs';
import { buildAndPublish } from '../../runner/oci/build/publish.js';
import { formatBytes } from '../../runner/byte-size.js';
import { handler, ms, printJson, say, type JsonFlag } from './output.js';

interface BuildArgs extends JsonFlag {
  spec: string;
  tag: string;
  push: boolean;
  ociLayout?: string;
  insecure: boolean;
}

export const buildCommand: CommandModule<object, BuildArgs> = {
  command: 'build <spec>',
  describe: 'Build a deterministic OCI image from a spec (same input, same digest)',
  builder: (yargs: Argv) =>
    yargs
      .positional('spec', { type: 'string', demandOption: true, describe: 'Image spec (YAML), e.g. scenarios/images/fixture.image.yaml' })
      .option('tag', { type: 'string', demandOption: true, describe: 'Reference to give the image: registry/repository:tag' })
      .option('push', { type: 'boolean', default: false, describe: 'Push to the registry the tag names' })
      .option('oci-layout', { type: 'string', describe: 'Also write the image into this OCI image layout directory' })
      .option('insecure', { type: 'boolean', default: false, describe: 'Allow plain HTTP to a registry that is not on loopback' })
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout' }) as unknown as Argv<BuildArgs>,
  handler: handler(async (argv: BuildArgs) => {
    const result = await buildAndPublish(argv.spec, {
      tag: argv.tag,
      push: argv.push,
      insecure: argv.insecure,
      ...(argv.ociLayout ? { ociLayout: argv.ociLayout } : {}),
    });
    say(`${result.reference}`);
    say(`  digest    ${result.digest}`);
    say(`  layers    ${result.layers} (${formatBytes(result.compressedBytes)} compressed), built in ${ms(result.buildMs)}`);
    if (result.uploaded) say(`  pushed    ${result.uploaded.length} blob(s) uploaded, the rest already present`);
    if (result.ociLayout) say(`  layout    ${result.ociLayout}`);
    if (!argv.push && !argv.ociLayout) say('  (not pushed: add --push or --oci-layout DIR to keep it)');
    if (argv.json) printJson(result);
  }),
};

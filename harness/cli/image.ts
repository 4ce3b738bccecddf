import type { Argv, CommandModule } from 'yargs';
import { ImageCache } from '../../runner/oci/cache/image-cache.js';
import { materializeRootfs, releaseMaterializedRootfs } from '../../runner/oci/materialize.js';
import { openImageSource } from '../../runner/oci/open-source.js';
import { overlayAvailable } from '../../runner/oci/overlay.js';
import { parsePlatform } from '../../runner/oci/platform.js';
import { pullImage, type PulledImage } from '../../runner/oci/puller.js';
import { formatBytes, parseByteSize } from '../../runner/byte-size.js';
import { DEFAULT_UNPACK_LIMITS } from '../../runner/oci/layer-ingest.js';
import { handler, ms, printJson, say, type JsonFlag } from './output.js';
import { defaultCacheDir } from './paths.js';
import { buildCommand } from './image-build.js';

interface PullArgs extends JsonFlag {
  ref: string;
  cache?: string;
  cacheSize?: string;
  platform?: string;
  insecure: boolean;
  allowSetid: boolean;
  keepLayerBlobs: boolean;
  maxUnpackedBytes: string;
  maxEntries: number;
}

interface UnpackArgs extends PullArgs {
  rootfs: string;
  mode: 'auto' | 'overlay' | 'hardlink' | 'copy';
}

interface ReleaseArgs extends JsonFlag {
  rootfs: string;
  cache?: string;
}

function pullOptions(yargs: Argv): Argv<PullArgs> {
  return yargs
    .positional('ref', { type: 'string', demandOption: true, describe: 'Registry reference or oci:DIR[:TAG]' })
    .option('cache', { type: 'string', describe: 'Image cache directory (default $MCPWARM_HOME/cache)' })
    .option('cache-size', { type: 'string', describe: 'Cache budget such as 10Gi (default IMAGE_CACHE_SIZE, else 10Gi)' })
    .option('platform', { type: 'string', describe: 'os/arch[/variant] to pick from an index (default linux/amd64)' })
    .option('insecure', { type: 'boolean', default: false, describe: 'Allow plain HTTP to a registry that is not on loopback' })
    .option('allow-setid', { type: 'boolean', default: false, describe: 'Keep setuid/setgid bits from the layers' })
    .option('keep-layer-blobs', { type: 'boolean', default: false, describe: 'Also keep compressed layer blobs in the cache (snapshots are always kept)' })
    .option('max-unpacked-bytes', { type: 'string', default: '8Gi', describe: 'Refuse images that unpack to more than this' })
    .option('max-entries', { type: 'number', default: DEFAULT_UNPACK_LIMITS.maxEntries, describe: 'Refuse images with more tar entries than this' })
    .option('json', { type: 'boolean', default: false, describe: 'Print one JSON document on stdout' }) as unknown as Argv<PullArgs>;
}

async function pull(argv: PullArgs): Promise<{ cache: ImageCache; image: PulledImage }> {
  const cache = await ImageCache.open({ dir: argv.cache ?? defaultCacheDir(), ...(argv.cacheSize ? { budget: argv.cacheSize } : {}) });
  const source = openImageSource(argv.ref, { insecure: argv.insecure });
  const image = await pullImage(source, {
    cache,
    ...(argv.platform ? { platform: parsePlatform(argv.platform) } : {}),
    allowSetid: argv.allowSetid,
    keepLayerBlobs: argv.keepLayerBlobs,
    limits: { maxUnpackedBytes: parseByteSize(argv.maxUnpackedBytes, '--max-unpacked-bytes'), maxEntries: argv.maxEntries },
    overlayWhiteouts: await overlayAvailable(),
  });
  return { cache, image };
}

function describePull(image: PulledImage): void {
  say(`${image.reference}`);
  say(`  digest    ${image.digest}${image.manifestDigest !== image.digest ? ` (manifest ${image.manifestDigest})` : ''}`);
  for (const layer of image.layers) {
    const state = layer.cacheHit ? 'cached' : layer.blobHit ? 'unpacked from cached blob' : 'pulled';
    say(`  layer     ${layer.digest.slice(0, 19)}  ${formatBytes(layer.size).padStart(10)}  ${String(layer.entries).padStart(6)} entries  ${state}`);
  }
  const p = image.phases;
  say(`  phases    resolve ${ms(p.resolveMs)}, pull ${ms(p.pullMs)}, unpack ${ms(p.unpackMs)}, total ${ms(p.totalMs)}`);
}

function pullSummary(image: PulledImage): Record<string, unknown> {
  return {
    reference: image.reference,
    digest: image.digest,
    manifestDigest: image.manifestDigest,
    configDigest: image.configDigest,
    layers: image.layers,
    phases: image.phases,
  };
}

const pullCommand: CommandModule<object, PullArgs> = {
  command: 'pull <ref>',
  describe: 'Pull an image into the cache (layers unpacked once into snapshots)',
  builder: pullOptions,
  handler: handler(async (argv: PullArgs) => {
    const { image } = await pull(argv);
    describePull(image);
    if (argv.json) printJson(pullSummary(image));
  }),
};

const unpackCommand: CommandModule<object, UnpackArgs> = {
  command: 'unpack <ref>',
  describe: 'Pull an image and compose its root filesystem at --rootfs',
  builder: (yargs: Argv) =>
    pullOptions(yargs)
      .option('rootfs', { type: 'string', demandOption: true, describe: 'Target directory (absent or empty)' })
      .option('mode', {
        choices: ['auto', 'overlay', 'hardlink', 'copy'] as const,
        default: 'auto' as const,
        describe: 'overlay mount over the snapshots, hardlinks to them (read-only use), or a copy; auto: overlay when possible',
      }) as unknown as Argv<UnpackArgs>,
  handler: handler(async (argv: UnpackArgs) => {
    const { cache, image } = await pull(argv);
    describePull(image);
    const rootfs = await materializeRootfs(cache, image, argv.rootfs, argv.mode);
    say(`  rootfs    ${rootfs.target} (${rootfs.mode}, composed in ${ms(rootfs.composeMs)})`);
    say(`  release with: mcpwarm image release --rootfs ${rootfs.target}${argv.cache ? ` --cache ${argv.cache}` : ''}`);
    if (argv.json) printJson({ ...pullSummary(image), rootfs });
  }),
};

const releaseCommand: CommandModule<object, ReleaseArgs> = {
  command: 'release',
  describe: 'Unmount or remove a rootfs made by `image unpack`',
  builder: (yargs: Argv) =>
    yargs
      .option('rootfs', { type: 'string', demandOption: true })
      .option('cache', { type: 'string', describe: 'Image cache directory (default $MCPWARM_HOME/cache)' })
      .option('json', { type: 'boolean', default: false }) as Argv<ReleaseArgs>,
  handler: handler(async (argv: ReleaseArgs) => {
    const cache = await ImageCache.open({ dir: argv.cache ?? defaultCacheDir() });
    const record = await releaseMaterializedRootfs(cache, argv.rootfs);
    say(`released ${record.target} (${record.mode})`);
    if (argv.json) printJson({ released: record });
  }),
};

export const imageCommand: CommandModule = {
  command: 'image <command>',
  describe: 'Build, pull and unpack OCI images',
  builder: (yargs: Argv) =>
    yargs
      .command(buildCommand)
      .command(pullCommand)
      .command(unpackCommand)
      .command(releaseCommand)
      .demandCommand(1),
  handler: () => undefined,
};

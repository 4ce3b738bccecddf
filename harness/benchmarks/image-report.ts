/** What `bench image` prints on stderr: the image, the storage, the machine, p50/p90 per variant and phase, the targets. */
import { summaryHeader, summaryRow, targetLines } from '../report/console.js';
import { machineLine } from '../report/tables.js';
import type { ImageBenchResult } from './image-pipeline.js';

export function imageReportLines(result: ImageBenchResult): string[] {
  const { image, variants } = result;
  return [
    '',
    `image ${image.reference} (${image.layers} layers, ${(image.compressedBytes / 2 ** 20).toFixed(1)} MiB compressed, ${(image.unpackedBytes / 2 ** 20).toFixed(1)} MiB / ${image.entries} entries unpacked)`,
    `storage: ${result.storage.dir} (${result.storage.filesystem})`,
    `machine: ${machineLine(result.machine)}`,
    '',
    summaryHeader('variant (ms)'),
    summaryRow('cold: pull + unpack + compose', variants.cold.totalMs),
    summaryRow('  resolve', variants.cold.resolveMs),
    summaryRow('  pull (streamed into unpack)', variants.cold.pullMs),
    summaryRow('  unpack after last byte', variants.cold.unpackMs),
    summaryRow(`  compose (${result.composeMode})`, variants.cold.composeMs),
    summaryRow('seed: skopeo copy + tar -xf', variants.seed.totalMs),
    summaryRow('  skopeo copy', variants.seed.copyMs),
    summaryRow('  tar -xf layers', variants.seed.extractMs),
    summaryRow('cached: resolve + compose', variants.cached.rootfsReadyMs),
    summaryRow('  compose only', variants.cached.composeMs),
    '',
    ...targetLines(result.targets),
  ];
}

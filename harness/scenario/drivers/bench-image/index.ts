/** `bench image` as a whole-run driver; its figures: the variants, cold-vs-seed (speedup: seed p50 over cold p50) and cached-compose (the compose phase). */
import { resolve } from 'node:path';
import { runImageBenchmark, type ImageBenchResult } from '../../../benchmarks/image-pipeline.js';
import { imageReportLines } from '../../../benchmarks/image-report.js';
import { imageResults } from '../../../results/from-benchmarks.js';
import { derivedFigures, latencyOf, summaryFigures, wholeRunDriver } from '../whole-run.js';
import type { BenchImageSpec } from './spec.js';

interface ImageRun {
  result: ImageBenchResult;
  specPath: string;
}

export const benchImageDriver = wholeRunDriver<BenchImageSpec, ImageRun>({
  kind: 'bench-image',
  async run(spec, hooks) {
    const specPath = resolve(hooks.scenarioDir, spec.options.spec);
    // The benchmark stops its registry in its own finally: an aborted run stops at its next progress line.
    const result = await runImageBenchmark({ specPath, runs: spec.options.runs, workDir: hooks.workDir, progress: (line) => hooks.progressUntilAborted(line) });
    return { result, specPath };
  },
  figures: ({ result }) => [
    summaryFigures('cold', 'cold', result.variants.cold.totalMs),
    summaryFigures('seed', 'seed', result.variants.seed.totalMs),
    summaryFigures('cached', 'cached', result.variants.cached.rootfsReadyMs),
    derivedFigures('cold-vs-seed', 'cold-vs-seed', { metrics: { speedup: result.speedupOverSeed } }, { speedup: 'cold pull + unpack vs seed pipeline (p50 ratio)' }),
    derivedFigures('cached-compose', 'cached-compose', { latencyMs: latencyOf(result.variants.cached.composeMs) }, { p50: 'rootfs ready for a cached image, compose p50 (ms)' }),
  ],
  outputs: ({ result, specPath }, targets) => {
    const judged = { ...result, targets };
    return { document: imageResults(judged, { spec: specPath }), report: imageReportLines(judged), output: judged };
  },
});

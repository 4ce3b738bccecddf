/**
 * `bench pool` as a whole-run driver. Its figures: the side-by-side variants and the open loop's
 * tiers (`open-loop/hot` even when no activation was hot: then unmeasured); when Docker ran,
 * `warm-vs-docker-cold-clean` and `warm-vs-docker-cold` (speedup: Docker's p50 over warm's, on an
 * engine with empty storage and on the machine's); and `claim` (find + claim, warm and cold
 * activations of both phases).
 */
import { runPoolBenchmark, type PoolBenchResult } from '../../../benchmarks/pool.js';
import { poolSettings } from '../../../benchmarks/pool-options.js';
import { poolReportLines } from '../../../benchmarks/pool-report.js';
import { poolResults } from '../../../benchmarks/pool-results.js';
import { defaultDockerdDir } from '../../../cli/paths.js';
import { summarize } from '../../../measure/stats.js';
import { derivedFigures, latencyOf, summaryFigures, wholeRunDriver } from '../whole-run.js';
import type { BenchPoolSpec } from './spec.js';

const LABELS: Record<string, Record<string, string>> = {
  'side-by-side/hot': { p99: 'hot activation p99, side by side (ms)' },
  'open-loop/hot': { p99: 'hot activation p99, open loop (ms)' },
};

function figures(result: PoolBenchResult) {
  const { sideBySide, openLoop } = result;
  const side = Object.entries(sideBySide.variants).map(([variant, figures]) => summaryFigures(`side-by-side/${variant}`, `side-by-side/${variant}`, figures.summary, LABELS[`side-by-side/${variant}`]));
  const open = (['hot', 'warm', 'cold'] as const)
    .filter((tier) => tier === 'hot' || openLoop.byTier[tier] !== undefined)
    .map((tier) => summaryFigures(`open-loop/${tier}`, `open-loop/${tier}`, openLoop.byTier[tier]?.endToEndMs ?? summarize([]), LABELS[`open-loop/${tier}`]));
  return [
    ...side,
    ...open,
    ...(sideBySide.dockerColdCleanOverWarmP50 !== undefined
      ? [
          derivedFigures('warm-vs-docker-cold-clean', 'warm-vs-docker-cold-clean', { metrics: { speedup: sideBySide.dockerColdCleanOverWarmP50 } }, {
            speedup: 'warm (cached) vs Docker cold start on an engine with empty storage (p50 ratio)',
          }),
        ]
      : []),
    ...(sideBySide.dockerColdOverWarmP50 !== undefined
      ? [derivedFigures('warm-vs-docker-cold', 'warm-vs-docker-cold', { metrics: { speedup: sideBySide.dockerColdOverWarmP50 } }, { speedup: "warm (cached) vs Docker cold start on the machine's engine (p50 ratio)" })]
      : []),
    derivedFigures('claim', 'claim', { latencyMs: latencyOf(result.claimMs) }, { p99: 'find + claim p99, process substrate (ms)' }),
  ];
}

export const benchPoolDriver = wholeRunDriver<BenchPoolSpec, PoolBenchResult>({
  kind: 'bench-pool',
  run: (spec, hooks) =>
    // Everything it starts is registered on the run's teardown: an aborted run stops it at once. The
    // Docker engines keep their state beside the machine's (the engine with empty storage on the
    // same kind of storage as it: not the scratch, which may be tmpfs).
    runPoolBenchmark({ ...poolSettings(spec.options), workDir: hooks.workDir, dockerdStateDir: defaultDockerdDir(), cleanups: hooks.cleanups, progress: (line) => hooks.progress(line) }),
  figures,
  outputs: (result, targets) => {
    const judged = { ...result, targets };
    return { document: poolResults(judged), report: poolReportLines(judged), output: judged };
  },
});

/**
 * `bench strategies` as a whole-run driver. Its figures: the results' variants (one call at a
 * time after idle and back to back, and each gateway's highest sustained step), `added` and
 * `added-back-to-back` (per proxy strategy, `added/s-rard`: p50 added over direct stdio with lean
 * clients, after idle and back to back), `p-rard-vs-s-rard` (speedup: sustained rate on
 * the 100 ms tool) and `proxy-vs-supergateway` (speedup: best strategy over supergateway's best
 * mode on the fast tool), each when the run measured what it compares.
 */
import { strategiesSettings } from '../../../benchmarks/strategies-options.js';
import { strategiesReportLines, strategiesResults } from '../../../benchmarks/strategies-report.js';
import type { LatencyMode } from '../../../benchmarks/strategies-latency.js';
import { TARGETS } from '../../../benchmarks/strategies-targets.js';
import type { RatioBound } from '../../../benchmarks/strategies-saturation.js';
import { runStrategiesBenchmark, type StrategiesBenchResult, type StrategiesSamples } from '../../../benchmarks/strategies.js';
import { summarize } from '../../../measure/stats.js';
import type { VariantFigures } from '../../thresholds.js';
import { derivedFigures, summaryFigures, wholeRunDriver } from '../whole-run.js';
import { flagsOf, type BenchStrategiesSpec } from './spec.js';

interface StrategiesRun {
  result: StrategiesBenchResult;
  samples: StrategiesSamples;
}

/** Said of a ratio one of whose rates is the top of its ladder, not a saturation point. */
const BOUND_NOTES: Record<RatioBound, string> = {
  exact: '',
  lower: "; a lower bound: the strategy sustained the ladder's top",
  upper: "; an upper bound: supergateway sustained the ladder's top",
  unknown: "; unknown: both sustained the ladder's top",
};

function figures({ result, samples }: StrategiesRun): VariantFigures[] {
  const { config, comparisons } = result;
  const lean = (mode: LatencyMode) => result.addedLatency?.clients.find((entry) => entry.client === 'lean' && entry.mode === mode)?.via ?? [];
  const added = (mode: LatencyMode, subject: string, when: string) =>
    lean(mode)
      .filter((via) => TARGETS[via.target].family === 'proxy')
      .map((via) => derivedFigures(`${subject}/${via.target}`, subject, { latencyMs: { p50: via.addedP50Ms } }, { p50: `added p50 latency, ${TARGETS[via.target].label} over direct stdio, lean clients, ${when} (ms)` }));
  return [
    ...[...samples.addedLatency].map(([key, values]) => summaryFigures(key, key, summarize(values))),
    ...[...samples.sustained].map(([key, values]) => summaryFigures(key, key, summarize(values))),
    ...added('after-idle', 'added', 'after idle'),
    ...added('back-to-back', 'added-back-to-back', 'back to back'),
    ...(comparisons.pooledOverSerialSlow !== null
      ? [
          derivedFigures('p-rard-vs-s-rard', 'p-rard-vs-s-rard', { metrics: { speedup: comparisons.pooledOverSerialSlow } }, {
            speedup: `p-rard (${config.backends} backends) over s-rard, sustained rate on the 100 ms tool at p99 <= ${config.p99BoundMs.slow} ms (x)`,
          }),
        ]
      : []),
    ...(comparisons.proxyOverSupergatewayFast !== null
      ? [
          derivedFigures('proxy-vs-supergateway', 'proxy-vs-supergateway', { metrics: { speedup: comparisons.proxyOverSupergatewayFast.ratio } }, {
            speedup: `best strategy (${comparisons.proxyOverSupergatewayFast.proxy}) over supergateway's best (${comparisons.proxyOverSupergatewayFast.supergateway}), sustained rate on the fast tool at p99 <= ${config.p99BoundMs.fast} ms (x)${BOUND_NOTES[comparisons.proxyOverSupergatewayFast.bound]}`,
          }),
        ]
      : []),
  ];
}

export const benchStrategiesDriver = wholeRunDriver<BenchStrategiesSpec, StrategiesRun>({
  kind: 'bench-strategies',
  run: (spec, hooks) =>
    // Every gateway it starts is registered on the run's teardown: an aborted run stops them at once.
    runStrategiesBenchmark({ ...strategiesSettings(flagsOf(spec.options)), cleanups: hooks.cleanups, progress: (line) => hooks.progress(line) }),
  figures,
  outputs: ({ result, samples }, targets) => {
    const judged = { ...result, targets };
    const document = strategiesResults(judged, samples);
    return { ...(document ? { document } : {}), report: strategiesReportLines(judged), output: judged };
  },
});

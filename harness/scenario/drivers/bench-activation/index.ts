/**
 * `bench activation` as a whole-run driver. Its figures: per server the variants (`fixture/warm`,
 * named `warm`), `overhead` (p50 and p99 of cached activation over bare spawn) and `cold-vs-seed`
 * (speedup: the seed pipeline's p50 over an uncached activation's); and `idle-agent` (rss-mib).
 */
import { runActivationBenchmark, type ActivationBenchResult } from '../../../benchmarks/activation.js';
import { activationReportLines } from '../../../benchmarks/activation-report.js';
import { activationResults } from '../../../results/from-benchmarks.js';
import { derivedFigures, summaryFigures, wholeRunDriver } from '../whole-run.js';
import type { BenchActivationSpec } from './spec.js';

export const benchActivationDriver = wholeRunDriver<BenchActivationSpec, ActivationBenchResult>({
  kind: 'bench-activation',
  run: (spec, hooks) =>
    // The benchmark stops its agents and registry in its own finally: an aborted run stops at its next progress line.
    runActivationBenchmark({ ...spec.options, workDir: hooks.workDir, progress: (line) => hooks.progressUntilAborted(line) }),
  figures: (result) => [
    ...result.servers.flatMap((server) => [
      ...(['bare', 'warm', 'cold', 'seed'] as const).map((variant) => summaryFigures(`${server.server}/${variant}`, variant, server.variants[variant])),
      derivedFigures(`${server.server}/overhead`, 'overhead', { latencyMs: server.overhead }, {
        p50: `${server.server}: activation overhead p50, cached (ms)`,
        p99: `${server.server}: activation overhead p99, cached (ms)`,
      }),
      derivedFigures(`${server.server}/cold-vs-seed`, 'cold-vs-seed', { metrics: { speedup: server.coldSpeedupOverSeed } }, { speedup: `${server.server}: uncached vs seed pipeline (p50 ratio)` }),
    ]),
    derivedFigures('idle-agent', 'idle-agent', { metrics: { 'rss-mib': result.idleAgentRssBytes / 2 ** 20 } }, { 'rss-mib': 'idle agent RSS (MiB)' }),
  ],
  outputs: (result, targets) => {
    const judged = { ...result, targets };
    return { document: activationResults(judged, {}), report: activationReportLines(judged), output: judged };
  },
});

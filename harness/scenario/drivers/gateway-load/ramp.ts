/** One step of a rising-rate ramp judged against its criteria, purely. */
import type { TimedOperation } from '../../../load/open-loop.js';
import { summarize } from '../../../measure/stats.js';
import { meets, type Threshold, type VariantFigures } from '../../thresholds.js';

export interface StepVerdict {
  rate: number;
  figures: VariantFigures;
  /** Every criterion met. */
  sustained: boolean;
}

/** Figures of the operations planned after the warm-up (dropped ones count as errors). */
export function judgeStep(rate: number, operations: ReadonlyArray<TimedOperation<unknown>>, droppedPlannedMs: readonly number[], warmupMs: number, until: readonly Threshold[]): StepVerdict {
  const measured = operations.filter((op) => op.plannedMs >= warmupMs);
  const dropped = droppedPlannedMs.filter((at) => at >= warmupMs).length;
  const ok = measured.filter((op) => op.ok);
  const latency = summarize(ok.map((op) => op.latencyMs));
  const attempts = measured.length + dropped;
  const figures: VariantFigures = {
    id: `${rate}/s`,
    variant: `${rate}/s`,
    latencyMs: { p50: latency.p50, p90: latency.p90, p99: latency.p99, mean: latency.mean, max: latency.max },
    errorRate: attempts === 0 ? Number.NaN : (attempts - ok.length) / attempts,
    metrics: {},
  };
  return { rate, figures, sustained: attempts > 0 && until.every((criterion) => meets(criterion, figures)) };
}

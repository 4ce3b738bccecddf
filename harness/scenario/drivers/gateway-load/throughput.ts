/**
 * An autocannon run as a trial's outcome, purely: every answer a sample (ok when it was a JSON-RPC
 * result), every request left without an answer (connection error, timeout) a failed one, and
 * autocannon's own figures as metrics: `rps` (mean of its per-second samples of answers),
 * `rps_p50`, `latency_p50` and `latency_p99` (in whole ms, as autocannon records them), `errors`
 * and `timeouts` (counts). These are closed-loop figures: the offered load followed the answers.
 */
import type { AutocannonOutcome } from '../../../load/autocannon-load.js';
import type { Sample, TrialOutcome } from '../types.js';

export function throughputOutcome(outcome: AutocannonOutcome): TrialOutcome {
  const { latencyMs, problems } = outcome.answers;
  const answered = latencyMs.map((ms, i): Sample => {
    const problem = problems[i];
    return problem === null || problem === undefined ? { latencyMs: ms, ok: true } : { latencyMs: ms, ok: false, error: problem };
  });
  // No answer, so no time of its own.
  const unanswered = Object.entries(outcome.unanswered).flatMap(([code, n]) => Array.from({ length: n }, (): Sample => ({ latencyMs: 0, ok: false, error: code })));
  return {
    samples: [...answered, ...unanswered],
    metrics: {
      rps: outcome.requestsPerSecond.mean,
      rps_p50: outcome.requestsPerSecond.p50,
      latency_p50: outcome.latencyMs.p50,
      latency_p99: outcome.latencyMs.p99,
      errors: outcome.errors,
      timeouts: outcome.timeouts,
    },
  };
}

/** One progress line for a trial. */
export function throughputLine(id: string, outcome: AutocannonOutcome): string {
  const { requestsPerSecond: rps, latencyMs } = outcome;
  return (
    `  ${id}: closed loop, ${outcome.connections} connections x ${outcome.pipelining}: ${rps.mean.toFixed(0)} req/s (mean of per-second samples; p50 ${rps.p50.toFixed(0)}), ` +
    `latency p50 ${latencyMs.p50} ms, p99 ${latencyMs.p99} ms (autocannon, whole ms), errors ${outcome.errors}, timeouts ${outcome.timeouts}`
  );
}

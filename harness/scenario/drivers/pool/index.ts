/** The pool driver at run time: one controller per variant (pool size), activations offered open loop. */
import { join } from 'node:path';
import { runOpenLoop } from '../../../load/open-loop.js';
import { summarize } from '../../../measure/stats.js';
import { scheduleOffsets } from '../../../load/schedule.js';
import type { ScenarioController } from '../../pool-controller.js';
import { scenarioController } from '../../scenario-controllers.js';
import { arrivalPattern, scheduleLength } from '../../workload.js';
import { errorCode, type DriverSession, type RunContext, type ScenarioDriver } from '../types.js';
import type { PoolSpec } from './spec.js';

type PoolVariant = PoolSpec['variants'][number];

interface Activated {
  activationId: string;
  tier: string;
  phases: Record<string, number>;
}

export const poolDriver: ScenarioDriver = {
  kind: 'pool',
  async start(plan, context: RunContext): Promise<DriverSession> {
    const spec = plan.spec as PoolSpec;
    const controllers = new Map<string, ScenarioController>();
    for (const planned of plan.variants) {
      const variant = planned.variant as PoolVariant;
      const controller = await scenarioController({
        name: planned.id.replace(/\//g, '-'),
        stateDir: join(context.workDir, `pool-${planned.id.replace(/\//g, '-')}`),
        substrate: planned.substrate,
        size: variant.size,
        maxSize: variant.maxSize ?? variant.size * 2,
        maxWaitMs: spec.pool.maxWait,
        coldFallback: spec.pool.coldFallback,
        sandbox: spec.pool.sandbox,
        teardown: context.teardown,
      });
      controllers.set(planned.id, controller);
      context.progress(`controller for ${planned.id} at ${controller.url} (${variant.size} warm runners)`);
    }
    const offsetsMs = scheduleOffsets(arrivalPattern(spec.workload.open!, context.seed, context.traces), scheduleLength(spec.workload));
    const warmupMs = spec.workload.warmup ?? 0;

    return {
      runTrial: async (_trial, planned) => {
        const controller = controllers.get(planned.id)!;
        const variant = planned.variant as PoolVariant;
        const image = context.imageRef(spec.image, planned.link.name);
        // Untimed: every runner of the previous trial replaced, the pool full.
        await controller.settle(variant.size);
        const result = await runOpenLoop<Activated>({
          offsetsMs,
          operation: () => controller.activate(image),
          ...(spec.workload.maxInFlight !== undefined ? { maxInFlight: spec.workload.maxInFlight } : {}),
          signal: context.signal,
        });
        await Promise.all(result.operations.filter((op) => op.ok).map((op) => controller.end(op.value!.activationId)));
        const measured = result.operations.filter((op) => op.plannedMs >= warmupMs);
        return {
          samples: [
            ...measured.map((op) =>
              op.ok
                ? { latencyMs: op.latencyMs, ok: true, kind: op.value!.tier, phases: { queueMs: op.value!.phases.queueMs ?? 0, claimMs: op.value!.phases.claimMs ?? 0 } }
                : { latencyMs: op.latencyMs, ok: false, error: errorCode(op.error) },
            ),
            ...result.droppedPlannedMs.filter((at) => at >= warmupMs).map(() => ({ latencyMs: Number.NaN, ok: false, error: 'DROPPED' })),
          ],
          metrics: { scheduleLagP99Ms: summarize(result.operations.map((op) => op.lagMs)).p99 },
        };
      },
    };
  },
};

/** The activation driver at run time: see spec.ts for the modes. */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { callJson, errorFromAnswer } from '../../../../runner/http-json.js';
import { startAgentProcess, type AgentProcess } from '../../../benchmarks/agent-process.js';
import { DockerColdStarts } from '../../../benchmarks/docker-cold-start.js';
import { ensureDockerd, stopDockerd } from '../../../cluster/dockerd.js';
import type { PlannedVariant } from '../../plan.js';
import type { ScenarioController } from '../../pool-controller.js';
import { scenarioController } from '../../scenario-controllers.js';
import { AGENT_START_TIMEOUT_MS, errorCode, type DriverSession, type RunContext, type Sample, type ScenarioDriver } from '../types.js';
import type { ActivationMode, ActivationSpec } from './spec.js';
import { seedActivation } from './seed-activation.js';

type ActivationVariant = ActivationSpec['variants'][number];

/** POST /activate on an agent, then DELETE of the instance (untimed); phases from the agent's answer. */
async function activateOnAgent(agent: AgentProcess, image: string): Promise<{ ms: number; phases: Record<string, number>; sandbox: string }> {
  const unreachable = { code: 'SERVICE_UNREACHABLE', what: 'the agent' } as const;
  const start = performance.now();
  const { status, json } = await callJson(new URL('/activate', agent.url), { method: 'POST', token: agent.token, body: { image }, unreachable });
  const ms = performance.now() - start;
  if (status !== 201) throw errorFromAnswer(json.error ?? {}, status);
  await callJson(new URL(`/instances/${json.instanceId}`, agent.url), { method: 'DELETE', token: agent.token, unreachable });
  // The phases, without their total (the sample is the total, measured here).
  const { totalMs: _total, ...phases } = json.phases as Record<string, number>;
  return { ms, phases, sandbox: json.sandbox };
}

async function pruneCache(agent: AgentProcess): Promise<void> {
  const { status, json } = await callJson(new URL('/cache/prune', agent.url), { method: 'POST', token: agent.token, unreachable: { code: 'SERVICE_UNREACHABLE', what: 'the agent' } });
  if (status !== 200) throw errorFromAnswer(json.error ?? {}, status);
}

async function timed(body: () => Promise<Omit<Sample, 'ok'> & { latencyMs: number }>): Promise<Sample> {
  const start = performance.now();
  try {
    return { ...(await body()), ok: true };
  } catch (error) {
    return { latencyMs: performance.now() - start, ok: false, error: errorCode(error) };
  }
}

export const activationDriver: ScenarioDriver = {
  kind: 'activation',
  async start(plan, context: RunContext): Promise<DriverSession> {
    const spec = plan.spec as ActivationSpec;
    const variantsOf = (mode: ActivationMode) => plan.variants.filter((v) => (v.variant as ActivationVariant).mode === mode);
    const refOf = (v: PlannedVariant) => context.imageRef((v.variant as ActivationVariant).image, v.link.name);
    const token = randomBytes(18).toString('base64url');
    const facts: Record<string, unknown> = {};

    const startAgent = async (name: string): Promise<AgentProcess> => {
      const agent = await startAgentProcess({ dir: join(context.workDir, name), sandbox: spec.sandbox, token, startTimeoutMs: AGENT_START_TIMEOUT_MS });
      context.teardown.push(name, () => agent.stop());
      context.progress(`${name} at ${agent.url}`);
      return agent;
    };
    const cached = variantsOf('agent-cached').length > 0 ? await startAgent('agent-cached') : undefined;
    const uncached = variantsOf('agent-uncached').length > 0 ? await startAgent('agent-uncached') : undefined;
    if (cached) {
      // The image is in this agent's cache before the first measured activation.
      for (const v of variantsOf('agent-cached')) facts.sandbox = (await activateOnAgent(cached, refOf(v))).sandbox;
    }

    let docker: DockerColdStarts | undefined;
    if (variantsOf('docker-cold').length > 0) {
      const engine = await ensureDockerd({ stateDir: join(context.workDir, 'dockerd') });
      if (engine.started) context.teardown.push('dockerd', () => stopDockerd(join(context.workDir, 'dockerd')));
      const starts = new DockerColdStarts(engine.socketPath, `scenario-${randomBytes(4).toString('hex')}`);
      context.teardown.push('docker containers and images', () => starts.cleanUp());
      facts.docker = engine.version;
      docker = starts;
      context.progress(`Docker engine ${engine.version} ${engine.started ? 'started' : 'running'} on ${engine.socketPath}`);
    }

    let controller: ScenarioController | undefined;
    const hotRefs = [...new Set(variantsOf('hot').map(refOf))];
    const pooled = [...variantsOf('hot'), ...variantsOf('warm')];
    if (pooled.length > 0) {
      controller = await scenarioController({
        name: 'pool',
        stateDir: join(context.workDir, 'pool'),
        substrate: pooled[0]!.substrate,
        size: 1,
        maxSize: hotRefs.length + 2,
        maxWaitMs: 10_000,
        coldFallback: true,
        sandbox: spec.sandbox,
        hot: hotRefs.map((image) => ({ image, min: 1, max: 1 })),
        teardown: context.teardown,
      });
      context.progress(`controller at ${controller.url}; waiting for its warm runner and hot instances`);
      await controller.settle(variantsOf('warm').length > 0 ? 1 : 0);
    }

    const modes: Record<ActivationMode, (ref: string, image: string) => Promise<Sample>> = {
      'agent-cached': (ref) => timed(async () => {
        const { ms, phases } = await activateOnAgent(cached!, ref);
        return { latencyMs: ms, phases };
      }),
      'agent-uncached': async (ref) => {
        await pruneCache(uncached!);
        return timed(async () => {
          const { ms, phases } = await activateOnAgent(uncached!, ref);
          return { latencyMs: ms, phases };
        });
      },
      hot: async (ref) => {
        // Untimed: the shelf is full again after the previous trial took its instance.
        await controller!.settle(0);
        let activationId: string | undefined;
        const sample = await timed(async () => {
          const start = performance.now();
          const activation = await controller!.activate(ref);
          activationId = activation.activationId;
          // A hot instance's phases are those of its activation ahead of time: not part of this wait.
          return { latencyMs: performance.now() - start, kind: activation.tier };
        });
        if (activationId !== undefined) await controller!.end(activationId);
        return sample;
      },
      warm: async (ref) => {
        // Untimed: a ready, empty runner is there (the previous trial's one was replaced).
        await controller!.settle(1);
        let activationId: string | undefined;
        const sample = await timed(async () => {
          const start = performance.now();
          const activation = await controller!.activate(ref, 'warm');
          activationId = activation.activationId;
          // The controller's phases (claim, then the agent's pull, unpack, mount, start, initialize), without their total.
          const { totalMs: _total, ...phases } = activation.phases;
          return { latencyMs: performance.now() - start, phases, kind: activation.tier };
        });
        if (activationId !== undefined) await controller!.end(activationId);
        return sample;
      },
      'docker-cold': (ref, image) =>
        timed(async () => {
          const start = await docker!.coldStart(ref, context.imageConfigDigest(image) ?? ref);
          // Not cold when the engine already had some of the image's layers (other images there share them).
          return { latencyMs: start.totalMs, phases: start.phases, kind: start.layersAlreadyPresent > 0 || !start.imageAbsentBefore ? 'layers-already-present' : 'cold' };
        }),
      seed: (ref) => timed(async () => ({ latencyMs: await seedActivation(ref, context.workDir) })),
    };

    return {
      runTrial: async (_trial, variant) => {
        const { mode, image } = variant.variant as ActivationVariant;
        return { samples: [await modes[mode](refOf(variant), image)] };
      },
      facts: () => facts,
    };
  },
};

/**
 * Two agents side by side in one job: the same image activated with the image cached, both
 * agents every round in random order, so drift of a shared machine hits both alike. The agents'
 * programs are injectable: a base revision's build against this tree, or the same program twice
 * (A/A calibration), or one with `--inject-delay-ms`.
 */
import { rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ActivationPhases } from '../../runner/agent/instance.js';
import type { CleanupStack } from '../../runner/cleanup-stack.js';
import { McpWarmError } from '../../runner/errors.js';
import { unmountUnder } from '../../runner/mounts.js';
import { buildAndPublish } from '../../runner/oci/build/publish.js';
import { shuffled } from '../../runner/shuffle.js';
import { activateOnce } from '../benchmarks/activation.js';
import { startAgentProcess, type AgentProcess } from '../benchmarks/agent-process.js';
import { startLocalRegistry } from '../cluster/local-registry.js';
import type { MachineFingerprint } from '../measure/fingerprint.js';
import { buildResults } from '../results/build.js';
import { activationPhaseSamples } from '../results/from-benchmarks.js';
import type { ResultsDocument } from '../results/schema.js';

export interface AgentSide {
  name: string;
  /** The agent program (default: this tree's `mcpwarm agent`). */
  command?: string[];
  extraArgs?: string[];
  /** The revision the program was built from, recorded in its results. */
  revision?: string;
}

/** The registry and the image both sides activate; set up once for any number of pairs. */
export interface ActivationRig {
  server: string;
  image: string;
  close(): Promise<void>;
}

/** The server's name from its image spec (`fixture` for fixture.image.yaml); its variant is `<name>/warm`. */
export function serverName(spec: string): string {
  return basename(spec).replace(/\.image\.ya?ml$/, '');
}

/** What is started registers its teardown on `cleanups` too, so an interrupted run stops it. */
export async function startRig(options: { workDir: string; spec: string; cleanups: CleanupStack; progress: (line: string) => void }): Promise<ActivationRig> {
  const registry = await startLocalRegistry({ dir: join(options.workDir, 'registry'), port: 0 });
  options.cleanups.push('the registry', () => registry.stop());
  try {
    const server = serverName(options.spec);
    options.progress(`building and pushing ${options.spec}`);
    const published = await buildAndPublish(options.spec, { tag: `${registry.address}/gate/${server}:1`, push: true });
    return { server, image: published.reference, close: () => registry.stop() };
  } catch (error) {
    await registry.stop();
    throw error;
  }
}

export interface PairedSamples {
  samplesMs: [number[], number[]];
  phases: [ActivationPhases[], ActivationPhases[]];
}

const TOKEN = 'gate-paired-activation-token';
const AGENT_START_TIMEOUT_MS = 60_000;

/** Rounds a side: at least the 6 a distribution-free interval of the median needs. */
export function checkRuns(runs: number): number {
  if (!(Number.isInteger(runs) && runs >= 6)) throw new McpWarmError('USAGE_INVALID', `--runs ${runs}: expected a whole number >= 6 (the fewest a p50 interval needs)`);
  return runs;
}

export interface PairOptions {
  /** Each side's agent gets a directory below it (removed afterwards). */
  workDir: string;
  sandbox: string;
  runs: number;
  sides: readonly [AgentSide, AgentSide];
  cleanups: CleanupStack;
  progress: (line: string) => void;
}

/** Starts both agents, warms their caches, runs the interleaved rounds, and stops them. */
export async function measurePair(rig: ActivationRig, options: PairOptions): Promise<PairedSamples> {
  const dirs = options.sides.map((side) => join(options.workDir, `agent-${side.name}`));
  const started = await Promise.allSettled(
    options.sides.map((side, i) =>
      startAgentProcess({
        dir: dirs[i]!,
        sandbox: options.sandbox,
        token: TOKEN,
        // A gate runs in CI next to other jobs: a slow start is not a failed one.
        startTimeoutMs: AGENT_START_TIMEOUT_MS,
        ...(side.command ? { command: side.command } : {}),
        ...(side.extraArgs ? { extraArgs: side.extraArgs } : {}),
      }),
    ),
  );
  const agents = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  // Agents run detached (their own session): an interrupt must stop them explicitly. Stopping twice is harmless.
  for (const agent of agents) options.cleanups.push(`agent pid ${agent.pid}`, () => agent.stop());
  try {
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    const [a, b] = agents as [AgentProcess, AgentProcess];
    // Not measured: the first activation pulls the image into each agent's cache, the second warms what is left.
    for (const agent of [a, b]) for (let i = 0; i < 2; i += 1) await activateOnce(agent, rig.image);
    const result: PairedSamples = { samplesMs: [[], []], phases: [[], []] };
    for (let round = 1; round <= options.runs; round += 1) {
      for (const side of shuffled([0, 1] as const)) {
        const { ms, info } = await activateOnce(side === 0 ? a : b, rig.image);
        result.samplesMs[side].push(ms);
        result.phases[side].push(info.phases);
      }
      if (round % 10 === 0 || round === options.runs) {
        const last = (side: 0 | 1) => result.samplesMs[side][round - 1]!.toFixed(0);
        options.progress(`  round ${round}/${options.runs}: ${options.sides[0].name} ${last(0)} ms, ${options.sides[1].name} ${last(1)} ms`);
      }
    }
    return result;
  } finally {
    await Promise.all(agents.map((agent) => agent.stop()));
    for (const dir of dirs) {
      await unmountUnder(dir);
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** A results document per side, with the variant name `bench activation` uses (`fixture/warm`), so either can be gated against a stored baseline. */
export function pairResults(
  rig: ActivationRig,
  pair: PairedSamples,
  context: { sides: readonly [AgentSide, AgentSide]; startedAt: string; machine: MachineFingerprint; options: Record<string, unknown> },
): [ResultsDocument, ResultsDocument] {
  const build = (i: 0 | 1): ResultsDocument => {
    const side = context.sides[i];
    return buildResults({
      benchmark: 'activation',
      scenario: { name: 'activation-paired', options: { ...context.options, side: side.name, ...(side.extraArgs ? { agentArgs: side.extraArgs } : {}) } },
      startedAt: context.startedAt,
      machine: context.machine,
      ...(side.revision ? { gitRevision: side.revision } : {}),
      variants: [
        { variant: `${rig.server}/warm`, label: `${rig.server}: agent, image cached`, samplesMs: pair.samplesMs[i], phases: activationPhaseSamples(pair.phases[i]) },
      ],
      facts: { image: rig.image, side: side.name },
    });
  };
  return [build(0), build(1)];
}

/**
 * The same-job gate's measurement on real agents: two agent processes activating the fixture image
 * interleaved, one started with `--inject-delay-ms`; the delay shows as its own phase, the gate
 * calls it a regression, and no agent is left running.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateGate } from '../harness/gate/gate.js';
import { measurePair, pairResults, startRig, type ActivationRig, type AgentSide } from '../harness/gate/paired-activation.js';
import { machineFingerprint } from '../harness/measure/fingerprint.js';
import { CleanupStack } from '../runner/cleanup-stack.js';
import { descendantProcesses } from './support/agent-fixture.js';

const DELAY_MS = 150;
let workDir: string;
let rig: ActivationRig;
const cleanups = new CleanupStack();

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'mcpwarm-gate-paired-'));
  // Servers run as the image's user and must reach their rootfs below this directory.
  await chmod(workDir, 0o755);
  rig = await startRig({ workDir, spec: 'scenarios/images/fixture.image.yaml', cleanups, progress: () => undefined });
});

afterAll(async () => {
  await cleanups.run();
  await rm(workDir, { recursive: true, force: true });
});

describe('paired activation', () => {
  it('runs two agents interleaved, reports an injected delay as its own phase, and the gate catches it', async () => {
    const sides: readonly [AgentSide, AgentSide] = [{ name: 'plain' }, { name: 'delayed', extraArgs: [`--inject-delay-ms=${DELAY_MS}`] }];
    const runs = 8;
    const pair = await measurePair(rig, { workDir: join(workDir, 'pair'), sandbox: 'auto', runs, sides, cleanups, progress: () => undefined });

    expect(pair.samplesMs.map((samples) => samples.length)).toEqual([runs, runs]);
    expect(pair.phases[0].every((phases) => phases.injectedDelayMs === undefined)).toBe(true);
    for (const phases of pair.phases[1]) expect(phases.injectedDelayMs).toBeGreaterThanOrEqual(DELAY_MS - 1);
    pair.samplesMs[1].forEach((ms) => expect(ms).toBeGreaterThanOrEqual(DELAY_MS));

    const [plain, delayed] = pairResults(rig, pair, { sides, startedAt: new Date().toISOString(), machine: await machineFingerprint(), options: { runs } });
    expect(plain.variants.map((v) => v.name)).toEqual(['fixture/warm']);
    expect(delayed.variants[0]!.phases!.map((p) => p.name)).toContain('injectedDelay');
    expect(delayed.scenario.options).toMatchObject({ side: 'delayed', agentArgs: [`--inject-delay-ms=${DELAY_MS}`] });

    const report = evaluateGate(plain, delayed);
    expect(report.results[0]).toMatchObject({ variant: 'fixture/warm', metric: 'p50', verdict: 'regression' });

    // Both agents (and their servers) are gone.
    expect((await descendantProcesses()).filter((p) => p.cmdline.includes('agent'))).toEqual([]);
  });
});

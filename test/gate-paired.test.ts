/**
 * The same-job gate's measurement on real agents: two agent processes activating the fixture image
 * interleaved, one started with `--inject-delay-ms 150%`; the delay shows as its own phase and is
 * that share of the activation's own time, the gate calls it a regression, and no agent is left
 * running.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInjectedDelay } from '../runner/agent/activation.js';
import { evaluateGate } from '../harness/gate/gate.js';
import { measurePair, pairResults, startRig, type ActivationRig, type AgentSide } from '../harness/gate/paired-activation.js';
import { machineFingerprint } from '../harness/measure/fingerprint.js';
import { CleanupStack } from '../runner/cleanup-stack.js';
import { descendantProcesses } from './support/agent-fixture.js';

// Large enough that eight rounds on a loaded two-core machine show it beyond doubt.
const SHARE = 1.5;
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

describe('injected delays', () => {
  it('parse as milliseconds or a share, and refuse anything else', () => {
    expect(parseInjectedDelay('20')).toEqual({ ms: 20 });
    expect(parseInjectedDelay('12.5%')).toEqual({ fraction: 0.125 });
    expect(parseInjectedDelay('0')).toBeUndefined();
    for (const bad of ['-5', '20ms', '%', '']) expect(() => parseInjectedDelay(bad)).toThrow(expect.objectContaining({ code: 'USAGE_INVALID' }));
  });
});

describe('paired activation', () => {
  it('runs two agents interleaved, reports an injected delay as its own phase, and the gate catches it', async () => {
    const sides: readonly [AgentSide, AgentSide] = [{ name: 'plain' }, { name: 'delayed', extraArgs: [`--inject-delay-ms=${SHARE * 100}%`] }];
    const runs = 8;
    const pair = await measurePair(rig, { workDir: join(workDir, 'pair'), sandbox: 'auto', runs, sides, cleanups, progress: () => undefined });

    expect(pair.samplesMs.map((samples) => samples.length)).toEqual([runs, runs]);
    expect(pair.phases[0].every((phases) => phases.injectedDelayMs === undefined)).toBe(true);
    for (const phases of pair.phases[1]) {
      // The share of the time before the delay (timers fire a little late, never early).
      const share = phases.injectedDelayMs! / (phases.totalMs - phases.injectedDelayMs!);
      expect(share).toBeGreaterThan(SHARE - 0.05);
      expect(share).toBeLessThan(SHARE + 0.5);
    }

    const [plain, delayed] = pairResults(rig, pair, { sides, startedAt: new Date().toISOString(), machine: await machineFingerprint(), options: { runs } });
    expect(plain.variants.map((v) => v.name)).toEqual(['fixture/warm']);
    expect(delayed.variants[0]!.phases!.map((p) => p.name)).toContain('injectedDelay');
    expect(delayed.scenario.options).toMatchObject({ side: 'delayed', agentArgs: ['--inject-delay-ms=150%'] });

    const report = evaluateGate(plain, delayed);
    expect(report.results[0]).toMatchObject({ variant: 'fixture/warm', metric: 'p50', verdict: 'regression' });

    // Both agents (and their servers) are gone.
    expect((await descendantProcesses()).filter((p) => p.cmdline.includes('agent'))).toEqual([]);
  });
});

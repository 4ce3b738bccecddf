/**
 * The overlay availability probe leaves nothing behind (no directory, no mount) when many probes
 * run at once, and when their process exits or is killed in the middle of one. Probes run with
 * TMPDIR set to a directory of this test's own, so other probes on the machine do not count.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountsUnder, unmountUnder } from '../runner/mounts.js';
import { probeOverlay } from '../runner/oci/overlay.js';
import { processesMentioning } from './support/processes.js';

const inCi = process.env.CI === 'true';
const OVERLAY_MODULE = fileURLToPath(new URL('../runner/oci/overlay.ts', import.meta.url));
/** Probes back to back until killed; a SIGTERM ends it with process.exit(), as the agent's handler does. */
const PROBE_LOOP = `
import { probeOverlay } from ${JSON.stringify(OVERLAY_MODULE)};
process.on('SIGTERM', () => process.exit(143));
process.stdout.write('probing\\n');
for (;;) if (!(await probeOverlay())) process.exit(3);
`;

let scratch: string;
const savedTmpdir = process.env.TMPDIR;
const children: ChildProcess[] = [];

const probeDirs = (): string[] => readdirSync(scratch).filter((name) => name.startsWith('mcpwarm-overlay-probe-'));

/** Starts a probe loop, kills it with `signal` once it has probed for `afterMs`, and resolves when it has exited. */
function killMidProbe(signal: NodeJS.Signals, afterMs: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PROBE_LOOP], {
    env: { ...process.env, TMPDIR: scratch },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => setTimeout(() => child.kill(signal), afterMs));
    child.once('error', reject);
    child.once('exit', (code, exitSignal) => (code === 3 ? reject(new Error('a probe in the loop answered false')) : resolve(void exitSignal)));
  });
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'mcpwarm-probe-test-'));
  process.env.TMPDIR = scratch;
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (savedTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmpdir;
  // A failed test may have left a probe mounted: unmount it, or the scratch stays.
  await unmountUnder(scratch);
  rmSync(scratch, { recursive: true, force: true });
});

const available = await probeOverlay();

describe('overlay probe', () => {
  it('is available here under CI', () => {
    if (inCi) expect(available, 'overlay mounts must be available under CI (root, overlay in /proc/filesystems, unshare and mount)').toBe(true);
  });

  it.runIf(available || inCi)('many concurrent probes all succeed and leave no directory and no mount', async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, () => probeOverlay()));
    expect(answers.every(Boolean)).toBe(true);
    expect(probeDirs()).toEqual([]);
    expect(mountsUnder(scratch)).toEqual([]);
  });

  it.runIf(available || inCi)('a process killed or exiting mid-probe leaves no mount, and the next probe removes its directories', async () => {
    const signals: NodeJS.Signals[] = ['SIGKILL', 'SIGTERM', 'SIGKILL', 'SIGTERM', 'SIGKILL', 'SIGKILL'];
    await Promise.all(signals.map((signal, index) => killMidProbe(signal, 150 + index * 17)));
    // The killed processes' mount(8) may still run: their mounts are in namespaces of their own.
    expect(mountsUnder(scratch)).toEqual([]);
    // Processes whose command line names the scratch directory: mount(8) of a probe whose process was killed.
    for (let waited = 0; (await processesMentioning(scratch)).length > 0 && waited < 5000; waited += 50) await sleep(50);
    expect(await processesMentioning(scratch)).toEqual([]);
    expect(await probeOverlay()).toBe(true);
    expect(probeDirs()).toEqual([]);
    expect(mountsUnder(scratch)).toEqual([]);
  });
});

/**
 * The process substrate with real runner agents as local processes: the shared conformance suite
 * (test/support/substrate-conformance.ts), and, checked in /proc, no agent outlives the file.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { ProcessSubstrate } from '../runner/substrates/process/index.js';
import { describeSubstrateConformance } from './support/substrate-conformance.js';
import { processesMentioning } from './support/processes.js';

let work: string;

async function processExists(pid: number): Promise<boolean> {
  const state = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return state !== undefined && state.slice(state.lastIndexOf(')') + 2)[0] !== 'Z';
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mcpwarm-substrate-process-'));
});

afterAll(async () => {
  expect(await processesMentioning(`${work}/`)).toEqual([]);
  await rm(work, { recursive: true, force: true });
});

describeSubstrateConformance({
  name: 'process',
  work: () => work,
  make: (stateDir, options = {}) => new ProcessSubstrate({ stateDir, stopGraceMs: 5000, pollIntervalMs: 100, ...options }),
  failingAgentCommand: [process.execPath, '-e', "console.error('agent cannot start: boom'); process.exit(3)", '--'],
  missingAgentCommand: ['/nonexistent/mcpwarm-agent'],
  missingAgentFailsCreate: true,
  agentExists: (agent) => processExists((agent as { pid: number }).pid),
  killAgent: async (agent) => {
    process.kill((agent as { pid: number }).pid, 'SIGKILL');
  },
  agentsOf: async (stateDir) => (await processesMentioning(`${stateDir}/`)).map((p) => `${p.pid}: ${p.cmdline}`),
});

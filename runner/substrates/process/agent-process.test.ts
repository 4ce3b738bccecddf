import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentArgs, defaultAgentCommand, isAgentProcess, readListeningUrl, spawnAgent, stopAgent } from './agent-process.js';

const paths = { cacheDir: '/s/r/cache', tokenFile: '/s/r/token', logFile: '/s/r/agent.log' };
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mcpwarm-agent-process-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('agentArgs', () => {
  it('passes every template setting as --flag=value', () => {
    expect(agentArgs({ pool: 'p', token: 't', sandbox: 'bwrap', cacheBudget: '2Gi', allow: ['-weird', 'reg/*'] }, paths)).toEqual([
      '--port=0',
      '--host=127.0.0.1',
      '--cache=/s/r/cache',
      '--token-file=/s/r/token',
      '--sandbox=bwrap',
      '--cache-size=2Gi',
      '--allow=-weird',
      '--allow=reg/*',
    ]);
  });

  it('leaves out what the template does not set', () => {
    expect(agentArgs({ pool: 'p', token: 't' }, paths)).toEqual(['--port=0', '--host=127.0.0.1', '--cache=/s/r/cache', '--token-file=/s/r/token']);
  });
});

describe('defaultAgentCommand', () => {
  it('runs the CLI source through tsx when running as TypeScript', () => {
    const command = defaultAgentCommand();
    expect(command.slice(0, 3)).toEqual([process.execPath, '--import', 'tsx']);
    expect(existsSync(command[3] as string)).toBe(true);
    expect(command[4]).toBe('agent');
  });
});

describe('readListeningUrl', () => {
  it('finds the URL the agent printed, or nothing yet', async () => {
    const log = join(work, 'agent.log');
    await writeFile(log, 'starting\n');
    expect(await readListeningUrl(log)).toBeUndefined();
    await writeFile(log, 'starting\nagent listening on http://127.0.0.1:41234 (sandbox runc)\n');
    expect(await readListeningUrl(log)).toBe('http://127.0.0.1:41234');
  });
});

describe('spawnAgent, isAgentProcess, stopAgent', () => {
  const sleeper = [process.execPath, '-e', 'setInterval(() => {}, 1000)', '--'];

  it('tells the agent started with a token file from any other process', async () => {
    const tokenFile = join(work, 'token-a');
    const pid = await spawnAgent(sleeper, [`--token-file=${tokenFile}`], join(work, 'a.log'));
    try {
      expect(await isAgentProcess(pid, tokenFile)).toBe(true);
      expect(await isAgentProcess(pid, join(work, 'other-token'))).toBe(false);
      expect(await isAgentProcess(process.pid, tokenFile)).toBe(false);
      expect(await isAgentProcess(0, tokenFile)).toBe(false);
    } finally {
      await stopAgent(pid, tokenFile, 2000);
    }
    expect(await isAgentProcess(pid, tokenFile)).toBe(false);
  });

  it('kills an agent that ignores SIGTERM after the grace period', async () => {
    const tokenFile = join(work, 'token-b');
    const stubborn = [process.execPath, '-e', "process.on('SIGTERM', () => {}); console.log('ignoring SIGTERM'); setInterval(() => {}, 1000)", '--'];
    const pid = await spawnAgent(stubborn, [`--token-file=${tokenFile}`], join(work, 'b.log'));
    // Signalled only once its handler is installed (node may take a while to start on a busy machine).
    while (!(await readFile(join(work, 'b.log'), 'utf8')).includes('ignoring SIGTERM')) await new Promise((resolve) => setTimeout(resolve, 25));
    const started = Date.now();
    await stopAgent(pid, tokenFile, 300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(await isAgentProcess(pid, tokenFile)).toBe(false);
  });

  it('rejects with SUBSTRATE_FAILED when the command cannot start', async () => {
    await expect(spawnAgent([join(work, 'no-such-program')], [], join(work, 'c.log'))).rejects.toMatchObject({ code: 'SUBSTRATE_FAILED' });
  });

  it('does not signal a process that is not the agent', async () => {
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    try {
      await stopAgent(other.pid as number, join(work, 'token-c'), 0);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(other.exitCode).toBeNull();
      expect(other.signalCode).toBeNull();
    } finally {
      other.kill('SIGKILL');
    }
  });
});

/**
 * An agent that dies (SIGKILL) leaves its servers' rootfs mounted (and its servers running, while
 * they have not noticed their stdin closed); the next agent on the same cache takes all of that
 * down at start-up.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAgent } from '../runner/agent/agent.js';
import type { InstanceInfo } from '../runner/agent/instance.js';
import { mountsUnder } from '../runner/mounts.js';
import { RuncSandbox } from '../runner/sandbox/runc/index.js';
import { imageFixture, type ImageFixture } from './support/agent-fixture.js';

const CLI = fileURLToPath(new URL('../harness/cli/main.ts', import.meta.url));
const TOKEN = 'recovery-token';
let images: ImageFixture;

beforeAll(async () => {
  images = await imageFixture('mcpwarm-recovery-');
}, 120_000);

afterAll(async () => {
  await images?.close();
});

it('sweeps the servers, mounts and scratch of an agent that was killed', async () => {
  const cacheDir = join(images.work, 'cache');
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'agent', '--port', '0', '--cache', cacheDir], {
    env: { ...process.env, MCPWARM_TOKEN: TOKEN },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let log = '';
    child.stderr.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(log);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`agent exited with ${code}: ${log}`)));
  });
  const response = await fetch(new URL('/activate', url), {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ image: images.fixture }),
  });
  const info = (await response.json()) as InstanceInfo;
  expect(response.status).toBe(201);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  // The agent is gone; its rootfs mount is not. (Its server and container may be gone by now or
  // not: an MCP server ends when its stdin closes, and the agent held the other end.)
  expect(mountsUnder(join(cacheDir, 'instances')).length).toBeGreaterThan(0);

  const successor = await startAgent({ host: '127.0.0.1', port: 0, cacheDir, sandbox: 'auto', token: TOKEN });
  try {
    for (let i = 0; i < 50 && existsSync(`/proc/${info.pid}`); i += 1) await new Promise((r) => setTimeout(r, 20));
    expect(existsSync(`/proc/${info.pid}`)).toBe(false);
    expect(await new RuncSandbox().containers()).not.toContain(info.instanceId);
    expect(mountsUnder(join(cacheDir, 'instances'))).toEqual([]);
    expect(await readdir(join(cacheDir, 'instances'))).toEqual([]);
    expect(await successor.instances()).toEqual([]);
  } finally {
    await successor.close();
  }
}, 120_000);

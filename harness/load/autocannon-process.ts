/**
 * Runs the autocannon load (autocannon-load.ts) in a child Node process and resolves with its
 * outcome. The gateways the harness measures may run in the harness's own process; a load
 * generator on the same event loop would take its turns from them. From source (`.ts`), the child
 * runs through tsx.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ERROR_CATALOGUE, McpWarmError, type ErrorCode } from '../../runner/errors.js';
import type { AutocannonLoadOptions, AutocannonOutcome } from './autocannon-load.js';

const FROM_SOURCE = import.meta.url.endsWith('.ts');
const CHILD = fileURLToPath(new URL(FROM_SOURCE ? './autocannon-child.ts' : './autocannon-child.js', import.meta.url));
/** The tree's root, where `--import tsx` resolves. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Besides the load's own time: starting the child (through tsx on a loaded machine) and sending the outcome. */
const CHILD_START_AND_FINISH_MS = 60_000;
/** How long the child may take to exit after its answer. */
const CHILD_EXIT_GRACE_MS = 5000;

type ChildAnswer = { outcome: AutocannonOutcome } | { error: { code?: unknown; message: string } };

/** The outcome of the load; rejects with the child's coded error, or INTERNAL when it died; an abort kills the child and rejects. */
export async function runAutocannonProcess(options: AutocannonLoadOptions, signal?: AbortSignal): Promise<AutocannonOutcome> {
  signal?.throwIfAborted();
  const child = spawn(process.execPath, [...(FROM_SOURCE ? ['--import', 'tsx'] : []), CHILD], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<string>((resolve) => {
    child.once('close', (code, killedBy) => resolve(killedBy ? `was killed by ${killedBy}` : `exited with status ${code}`));
    child.once('error', (error) => resolve(`could not be started: ${error.message}`));
  });
  const kill = (): void => void child.kill('SIGKILL');
  signal?.addEventListener('abort', kill, { once: true });
  // A child that neither answers nor exits in time (autocannon stuck) is killed: the answer is then its exit.
  const stuck = setTimeout(kill, options.durationMs + (options.warmupMs ?? 0) + (options.timeoutMs ?? 10_000) + CHILD_START_AND_FINISH_MS);
  try {
    const answer = await new Promise<ChildAnswer | string>((resolve) => {
      child.once('message', (message: ChildAnswer) => resolve(message));
      void exited.then(resolve);
      child.send(options, (error) => error && kill());
    });
    signal?.throwIfAborted();
    if (typeof answer === 'string') throw new McpWarmError('INTERNAL', `the autocannon process ${answer}${stderr.trim() === '' ? '' : `:\n${stderr.trimEnd()}`}`);
    if ('error' in answer) {
      const code = typeof answer.error.code === 'string' && answer.error.code in ERROR_CATALOGUE ? (answer.error.code as ErrorCode) : 'INTERNAL';
      throw new McpWarmError(code, answer.error.message);
    }
    return answer.outcome;
  } finally {
    signal?.removeEventListener('abort', kill);
    clearTimeout(stuck);
    // It exits on its own once it answered (or failed); one that does not is killed.
    const late = setTimeout(kill, CHILD_EXIT_GRACE_MS);
    await exited;
    clearTimeout(late);
  }
}

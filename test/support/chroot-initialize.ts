/** Starts an image's entrypoint in a chroot, as the image's user, and waits for its MCP initialize answer. */
import { spawn } from 'node:child_process';
import { findExecutable } from '../../runner/exec.js';
import type { ImageConfig } from '../../runner/oci/types.js';

/** Starts the image's entrypoint + cmd chrooted into `root` as its user; resolves with the initialize answer. */
export function initializeInChroot(root: string, config: ImageConfig, timeoutMs: number): Promise<Record<string, any>> {
  const { Entrypoint = [], Cmd = [], User = '0:0', Env = [] } = config.config ?? {};
  const argv = [...(Entrypoint ?? []), ...(Cmd ?? [])];
  const env = Object.fromEntries(Env.map((item) => [item.slice(0, item.indexOf('=')), item.slice(item.indexOf('=') + 1)]));
  const child = spawn(findExecutable('chroot')!, [`--userspec=${User}`, root, ...argv], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no initialize answer within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
    const finish = (error: Error | undefined, answer?: Record<string, any>) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      if (error) reject(error);
      else resolve(answer!);
    };
    // The answer (or the exit) decides; a closed stdin after an early exit is not an extra failure.
    child.stdin.on('error', () => undefined);
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      for (const line of stdout.split('\n').slice(0, -1)) {
        const message = JSON.parse(line) as Record<string, any>;
        if (message.id === 1) finish(undefined, message);
      }
    });
    child.on('exit', (code) => finish(new Error(`exited with ${code} before answering; stderr: ${stderr}`)));
    const initialize = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'image-build-test', version: '1' } };
    child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: initialize })}\n`);
  });
}

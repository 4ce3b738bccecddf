/**
 * Backends taken from the warm pool: each one is an activation on the pool controller
 * (`POST /activations {image}`), spoken to as MCP Streamable HTTP at the controller's
 * `/activations/ID/mcp` relay, and ended with `DELETE /activations/ID` (its runner is then
 * destroyed and the pool refilled).
 */
import { McpWarmError } from '../../../errors.js';
import { callJson, errorFromAnswer } from '../../../http-json.js';
import { JsonRpcResponseError } from '../../../mcp/jsonrpc.js';
import { RequestTimeoutError } from '../../../mcp/stdio-connection.js';
import type { BackendSource, BackendStartOptions, RunningBackend } from '../types.js';
import { StreamableHttpChannel } from './http-channel.js';

export interface PoolBackendOptions {
  /** The pool controller's base URL. */
  controller: URL;
  image: string;
  /** The controller's bearer token. */
  token?: string;
  /** How long the activated server's session may take to answer initialize. */
  readinessTimeoutMs: number;
}

const UNREACHABLE = { code: 'SERVICE_UNREACHABLE', what: 'the pool controller' } as const;

/** A failed initialize through the relay as the coded error a stdio server's would be. */
function initializeFailure(error: unknown, activationId: string): McpWarmError {
  const where = `activation ${activationId}`;
  if (error instanceof McpWarmError) return error;
  if (error instanceof RequestTimeoutError) return new McpWarmError('SERVER_INIT_TIMEOUT', `${where}: ${error.message}`);
  if (error instanceof JsonRpcResponseError) return new McpWarmError('SERVER_PROTOCOL', `${where} answered initialize with error ${error.code}: ${error.message}`);
  return new McpWarmError('SERVER_EXITED', `${where}: ${(error as Error).message}`, { cause: error });
}

export class PoolBackendSource implements BackendSource {
  readonly description: string;
  private readonly base: URL;

  constructor(private readonly options: PoolBackendOptions) {
    this.base = new URL(options.controller.href.endsWith('/') ? options.controller.href : `${options.controller.href}/`);
    this.description = `pool: ${options.image} via ${this.base.origin}`;
  }

  async start(startOptions: BackendStartOptions = {}): Promise<RunningBackend> {
    const { token } = this.options;
    const created = await callJson(new URL('activations', this.base), {
      method: 'POST',
      ...(token ? { token } : {}),
      body: { image: this.options.image },
      unreachable: UNREACHABLE,
    });
    if (created.status !== 201) throw errorFromAnswer(created.json?.error ?? {}, created.status);
    const activationId = String(created.json.activationId);
    const channel = new StreamableHttpChannel(new URL(String(created.json.endpoint), this.base), token);
    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        channel.close('the proxy stopped this backend');
        await callJson(new URL(`activations/${encodeURIComponent(activationId)}`, this.base), {
          method: 'DELETE',
          ...(token ? { token } : {}),
          unreachable: UNREACHABLE,
        }).catch(() => undefined);
      })());
    try {
      const initializeResult = await channel.initialize(startOptions.client, this.options.readinessTimeoutMs);
      return { channel, initializeResult, label: `activation ${activationId}`, stop };
    } catch (error) {
      await stop();
      throw initializeFailure(error, activationId);
    }
  }
}

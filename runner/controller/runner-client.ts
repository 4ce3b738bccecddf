/**
 * The controller's calls to its runners' agents, with the runners' token: prefetch an image,
 * activate one, look at an instance, stop one. A runner that does not answer is reported as such
 * (not thrown), since what the controller does next depends on it.
 */
import { McpWarmError } from '../errors.js';
import { callJson, errorFromAnswer } from '../http-json.js';
import type { ActivationRequest } from '../agent/activation-request.js';
import type { InstanceInfo } from '../agent/instance.js';
import type { PrefetchAnswer } from '../agent/prefetch.js';
import type { Runner } from '../substrates/types.js';
import type { InstanceCheck } from './activation-failures.js';

/** An agent's answer to a call that may take long: the value, its coded error, or that it did not answer (`answered: false`). */
export type AgentAnswer<T> = { ok: true; value: T } | { ok: false; answered: boolean; error: McpWarmError };

export type AgentActivation = AgentAnswer<InstanceInfo>;

/** A check that takes longer than this is inconclusive (checked again later), not a lost runner. */
const CHECK_TIMEOUT_MS = 5000;

export class RunnerClient {
  constructor(private readonly token: string) {}

  private call(runner: Runner, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    return callJson(new URL(path, runner.endpoint), { method, token: this.token, body, unreachable: { code: 'SUBSTRATE_FAILED', what: `runner ${runner.id}` } });
  }

  /**
   * Has the runner's agent activate `request` as instance `instanceId`. An agent that has not
   * answered within `timeoutMs` counts as lost (not answered); one cut short by `signal` too.
   */
  activate(runner: Runner, request: ActivationRequest, instanceId: string, timeoutMs: number, signal?: AbortSignal): Promise<AgentActivation> {
    return this.post<InstanceInfo>(runner, '/activate', { ...request, instanceId }, 201, timeoutMs, signal);
  }

  /** Has the runner's agent pull `image` into its cache (POST /images), as activate. */
  prefetch(runner: Runner, image: string, timeoutMs: number, signal?: AbortSignal): Promise<AgentAnswer<PrefetchAnswer>> {
    return this.post<PrefetchAnswer>(runner, '/images', { image }, 200, timeoutMs, signal);
  }

  private async post<T>(runner: Runner, path: string, body: unknown, success: number, timeoutMs: number, signal?: AbortSignal): Promise<AgentAnswer<T>> {
    const lost = (message: string, details?: Record<string, unknown>): AgentAnswer<T> => ({
      ok: false,
      answered: false,
      error: new McpWarmError('SUBSTRATE_FAILED', `runner ${runner.id} at ${runner.endpoint} ${message}`, details ? { details } : {}),
    });
    const timeout = AbortSignal.timeout(timeoutMs);
    let response: Response;
    let json: any;
    try {
      response = await fetch(new URL(path, runner.endpoint), {
        method: 'POST',
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      // The timeout covers the body too: an agent can hang after its headers.
      json = await response.json().catch((error: unknown) => {
        if (error instanceof SyntaxError) return {};
        throw error;
      });
    } catch (error) {
      if (signal?.aborted) return lost(`was left: the call to POST ${path} was cancelled`);
      if (timeout.aborted) return lost(`did not answer POST ${path} within ${timeoutMs} ms`, { timeoutMs });
      return lost(`is unreachable: ${(error as Error).message}`);
    }
    if (response.status === success) return { ok: true, value: json as T };
    return { ok: false, answered: true, error: errorFromAnswer(json?.error ?? {}, response.status) };
  }

  /**
   * GET /instances/ID on the runner, with the instance when it answered 200. A failed connection
   * is tried once more on a new one before it counts: a kept-alive connection the agent was
   * closing at that moment fails the same way as a dead agent.
   */
  async instance(runner: Runner, instanceId: string): Promise<InstanceCheck & { info?: InstanceInfo }> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const response = await fetch(new URL(`/instances/${instanceId}`, runner.endpoint), {
          headers: { authorization: `Bearer ${this.token}` },
          signal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
        });
        const info = (await response.json().catch(() => undefined)) as InstanceInfo | undefined;
        return response.status === 200 && info ? { answered: true, status: 200, state: info.state, info } : { answered: true, status: response.status };
      } catch (error) {
        const timedOut = (error as Error).name === 'TimeoutError';
        if (timedOut || attempt >= 2) return { answered: false, timedOut };
      }
    }
  }

  /** Stops an instance gracefully; a runner that does not answer is left to its deletion. */
  async stopInstance(runner: Runner, instanceId: string): Promise<void> {
    await this.call(runner, 'DELETE', `/instances/${instanceId}`).catch(() => undefined);
  }
}

/**
 * A scenario's pool controller spoken to over its HTTP API (POST and DELETE /activations, GET
 * /pool), wherever it runs: in this process, or deployed in a cluster and reached through a
 * NodePort.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { HotImageConfig } from '../../runner/controller/hot-tier.js';
import { McpWarmError } from '../../runner/errors.js';
import { callJson, errorFromAnswer } from '../../runner/http-json.js';
import type { ScenarioController } from './pool-controller.js';

export interface ControllerClientOptions {
  url: string;
  token: string;
  /** For messages: the pool's name in the scenario. */
  name: string;
  /** Names the controller in a SERVICE_UNREACHABLE error. */
  what: string;
  /** Hot shelves `settle` waits for. */
  hot?: readonly HotImageConfig[];
  /** Kept up to date with the ids of the activations made through this client and not ended yet. */
  live?: Set<string>;
}

export function controllerClient(options: ControllerClientOptions): ScenarioController {
  const { url, token, name, live } = options;
  const unreachable = { code: 'SERVICE_UNREACHABLE', what: options.what } as const;
  const call = (method: string, path: string, body?: unknown) => callJson(new URL(path, url), { method, token, body, unreachable });
  const self: ScenarioController = {
    url,
    token,
    // `tier: "warm"` skips the hot tier, so one image can be timed on both.
    activate: async (image: string, tier?: 'hot' | 'warm') => {
      const { status, json } = await call('POST', '/activations', tier === undefined ? { image } : { image, tier });
      if (status !== 201) throw errorFromAnswer(json.error ?? {}, status);
      live?.add(json.activationId);
      return json;
    },
    end: async (activationId) => {
      live?.delete(activationId);
      await call('DELETE', `/activations/${activationId}`);
    },
    pool: async () => (await call('GET', '/pool')).json,
    settle: async (available, timeoutMs = 120_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const status = await self.pool();
        const shelvesFull = (options.hot ?? []).every((h) => (status.hot?.find((s) => s.image === h.image)?.ready ?? 0) >= h.min);
        if (status.available >= available && shelvesFull) return;
        if (Date.now() > deadline) throw new McpWarmError('SUBSTRATE_FAILED', `pool ${name} did not reach ${available} warm runners in ${timeoutMs} ms: ${JSON.stringify({ available: status.available, hot: status.hot })}`);
        await sleep(100);
      }
    },
  };
  return self;
}

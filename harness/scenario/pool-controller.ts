/**
 * A pool controller for a scenario: in this process, its runners on the process substrate under
 * the run's scratch, torn down with every runner it made when the run ends.
 */
import { randomBytes } from 'node:crypto';
import { startController } from '../../runner/controller/controller.js';
import type { HotImageConfig } from '../../runner/controller/hot-tier.js';
import { Pool } from '../../runner/controller/pool.js';
import { runnerToken } from '../../runner/controller/runner-token.js';
import { createSubstrate } from '../../runner/substrates/registry.js';
import { controllerClient } from './controller-client.js';
import type { Teardown } from './teardown.js';

export interface ScenarioController {
  url: string;
  token: string;
  /** POST /activations (`tier: "warm"` skips the hot tier); resolves with the answer (an error answer is thrown as its coded error). */
  activate(image: string, tier?: 'hot' | 'warm'): Promise<{ activationId: string; tier: string; endpoint: string; phases: Record<string, number> }>;
  end(activationId: string): Promise<void>;
  /** GET /pool. */
  pool(): Promise<{ available: number; hot?: Array<{ image: string; ready: number }> } & Record<string, unknown>>;
  /** Waits until `available` warm runners are claimable (and every hot shelf is full). */
  settle(available: number, timeoutMs?: number): Promise<void>;
}

export interface ScenarioControllerOptions {
  stateDir: string;
  substrate: string;
  size: number;
  maxSize: number;
  maxWaitMs: number;
  coldFallback: boolean;
  sandbox: string;
  hot?: HotImageConfig[];
  teardown: Teardown;
  name: string;
}

export async function startScenarioController(options: ScenarioControllerOptions): Promise<ScenarioController> {
  const substrate = createSubstrate(options.substrate, { stateDir: options.stateDir, stopGraceMs: 2000 });
  const token = randomBytes(18).toString('base64url');
  const template = { pool: options.name, token: await runnerToken(options.stateDir), sandbox: options.sandbox };
  const pool = new Pool({
    substrate,
    template,
    policy: { warmTarget: options.size, maxSize: options.maxSize, maxAgeMs: 6 * 3_600_000, backoffBaseMs: 500, backoffMaxMs: 5000 },
    maxWaitMs: options.maxWaitMs,
    maxQueue: 10_000,
    coldFallback: options.coldFallback,
    reconcileIntervalMs: 250,
  });
  // Runners outlive a controller: they are removed after it closes (or fails to start).
  const removeRunners = async (): Promise<void> => {
    await Promise.all((await substrate.listRunners()).map((runner) => substrate.deleteRunner(runner.id)));
    await substrate.close();
  };
  const controller = await startController({ host: '127.0.0.1', port: 0, pool, substrate, token, leaseMs: 3_600_000, ...(options.hot ? { hot: options.hot } : {}) }, template.token).catch(async (error: unknown) => {
    await removeRunners();
    throw error;
  });
  options.teardown.push(`controller ${options.name} and its runners`, async () => {
    await controller.close();
    await removeRunners();
  });
  return controllerClient({ url: controller.url, token, name: options.name, what: 'the scenario controller', ...(options.hot ? { hot: options.hot } : {}) });
}

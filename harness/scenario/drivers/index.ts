/** The drivers a scenario's `driver` key names, at run time (their pure halves are in specs.ts). */
import { activationDriver } from './activation/index.js';
import { benchActivationDriver } from './bench-activation/index.js';
import { benchImageDriver } from './bench-image/index.js';
import { benchPoolDriver } from './bench-pool/index.js';
import { benchStrategiesDriver } from './bench-strategies/index.js';
import { gatewayLoadDriver } from './gateway-load/index.js';
import { poolDriver } from './pool/index.js';
import { strategiesDriver } from './strategies/index.js';
import type { ScenarioDriver } from './types.js';

export const DRIVERS: Readonly<Record<string, ScenarioDriver>> = {
  activation: activationDriver,
  pool: poolDriver,
  'gateway-load': gatewayLoadDriver,
  strategies: strategiesDriver,
  'bench-image': benchImageDriver,
  'bench-activation': benchActivationDriver,
  'bench-pool': benchPoolDriver,
  'bench-strategies': benchStrategiesDriver,
};

/** The drivers a scenario's `driver` key names, at run time (their pure halves are in specs.ts). */
import { activationDriver } from './activation/index.js';
import { gatewayLoadDriver } from './gateway-load/index.js';
import { poolDriver } from './pool/index.js';
import { strategiesDriver } from './strategies/index.js';
import type { ScenarioDriver } from './types.js';

export const DRIVERS: Readonly<Record<string, ScenarioDriver>> = {
  activation: activationDriver,
  pool: poolDriver,
  'gateway-load': gatewayLoadDriver,
  strategies: strategiesDriver,
};

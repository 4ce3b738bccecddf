/** The kinds of driver a scenario can name, by its `driver` key. */
import { activationSpec } from './activation/spec.js';
import { benchActivationSpec } from './bench-activation/spec.js';
import { benchImageSpec } from './bench-image/spec.js';
import { benchPoolSpec } from './bench-pool/spec.js';
import { benchStrategiesSpec } from './bench-strategies/spec.js';
import { gatewayLoadSpec } from './gateway-load/spec.js';
import { poolSpec } from './pool/spec.js';
import type { DriverSpecDefinition } from './spec-types.js';
import { strategiesSpec } from './strategies/spec.js';

export const DRIVER_SPECS: Readonly<Record<string, DriverSpecDefinition<any>>> = {
  activation: activationSpec,
  pool: poolSpec,
  'gateway-load': gatewayLoadSpec,
  strategies: strategiesSpec,
  'bench-image': benchImageSpec,
  'bench-activation': benchActivationSpec,
  'bench-pool': benchPoolSpec,
  'bench-strategies': benchStrategiesSpec,
};

export const DRIVER_KINDS = Object.keys(DRIVER_SPECS);

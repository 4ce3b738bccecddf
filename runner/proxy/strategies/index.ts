/** The strategies by name: the one place that maps a name to its implementation. */
import type { ProxyStrategy, StrategyName } from '../strategy.js';
import { pRardStrategy } from './p-rard/index.js';
import { perSessionStrategy } from './per-session/index.js';
import { sRardStrategy } from './s-rard/index.js';

export interface StrategySettings {
  /** P-RARD's pool size. */
  backends: number;
  /** Per-session's cap on live backends. */
  maxSessions: number;
  idleTimeoutMs: number;
}

const FACTORIES: Record<StrategyName, (settings: StrategySettings) => ProxyStrategy> = {
  's-rard': () => sRardStrategy(),
  'p-rard': (settings) => pRardStrategy(settings.backends),
  'per-session': (settings) => perSessionStrategy({ maxBackends: settings.maxSessions, idleTimeoutMs: settings.idleTimeoutMs }),
};

export function createStrategy(name: StrategyName, settings: StrategySettings): ProxyStrategy {
  return FACTORIES[name](settings);
}

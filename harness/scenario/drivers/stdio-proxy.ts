/** The stdio proxy in this process for a scenario's variant: one strategy over a stdio server command, or over activations on a pool controller. */
import type { ProxyOptions } from '../../../runner/proxy/options.js';
import { MCP_PATH, startProxy, type RunningProxy } from '../../../runner/proxy/proxy.js';
import type { StrategyName } from '../../../runner/proxy/strategy.js';
import type { RunContext } from './types.js';

export interface ScenarioProxy {
  /** The MCP endpoint. */
  endpoint: string;
  proxy: RunningProxy;
}

/** Where the backends come from: a command (`command[0] === 'node'` runs this Node, in the scenario's directory), or activations of `image`. */
export type ScenarioProxyServer = { command: readonly string[] } | { pool: { controller: string; token: string; image: string } };

export async function startScenarioProxy(options: { strategy: StrategyName; server: ScenarioProxyServer; backends?: number; name: string; maxSessions?: number }, context: RunContext): Promise<ScenarioProxy> {
  const proxy = await startProxy({
    strategy: options.strategy,
    backend: proxyBackend(options.server, context.scenarioDir),
    ...(options.backends !== undefined ? { backends: options.backends } : {}),
    // Load is measured, so requests queue rather than being refused at the defaults.
    maxQueue: 100_000,
    ...(options.maxSessions !== undefined ? { maxSessions: options.maxSessions } : {}),
    log: (line) => context.progress(`proxy ${options.name}: ${line}`),
  });
  context.teardown.push(`proxy ${options.name}`, () => proxy.close());
  return { endpoint: `${proxy.url}${MCP_PATH}`, proxy };
}

function proxyBackend(server: ScenarioProxyServer, cwd: string): ProxyOptions['backend'] {
  if ('pool' in server) return { kind: 'pool', ...server.pool };
  const [program, ...args] = server.command;
  return { kind: 'stdio', command: program === 'node' ? process.execPath : program!, args, cwd };
}

/** The stdio proxy in this process for a scenario's variant: one strategy over a stdio server command. */
import { MCP_PATH, startProxy, type RunningProxy } from '../../../runner/proxy/proxy.js';
import type { StrategyName } from '../../../runner/proxy/strategy.js';
import type { RunContext } from './types.js';

export interface ScenarioProxy {
  /** The MCP endpoint. */
  endpoint: string;
  proxy: RunningProxy;
}

/** `command[0] === 'node'` runs this Node; the command runs in the scenario's directory. */
export async function startScenarioProxy(options: { strategy: StrategyName; command: readonly string[]; backends?: number; name: string; maxSessions?: number }, context: RunContext): Promise<ScenarioProxy> {
  const [program, ...args] = options.command;
  const proxy = await startProxy({
    strategy: options.strategy,
    backend: { kind: 'stdio', command: program === 'node' ? process.execPath : program!, args, cwd: context.scenarioDir },
    ...(options.backends !== undefined ? { backends: options.backends } : {}),
    // Load is measured, so requests queue rather than being refused at the defaults.
    maxQueue: 100_000,
    ...(options.maxSessions !== undefined ? { maxSessions: options.maxSessions } : {}),
    log: (line) => context.progress(`proxy ${options.name}: ${line}`),
  });
  context.teardown.push(`proxy ${options.name}`, () => proxy.close());
  return { endpoint: `${proxy.url}${MCP_PATH}`, proxy };
}

/**
 * Where a scenario's pool controller comes from, by the variant's substrate: started in this
 * process on the process and docker substrates (its runners made under the run's scratch), and on
 * the kubernetes substrate the controller deployed in the kind cluster, reached through its
 * NodePort (pods are not reachable from this machine, so the controller must run in the cluster).
 */
import { McpWarmError } from '../../runner/errors.js';
import { SUBSTRATE_NAMES, type SubstrateName } from '../../runner/substrates/registry.js';
import { attachKindController } from './kind-controller.js';
import { startScenarioController, type ScenarioController, type ScenarioControllerOptions } from './pool-controller.js';

const CONTROLLERS: Record<SubstrateName, (options: ScenarioControllerOptions) => Promise<ScenarioController>> = {
  process: startScenarioController,
  docker: startScenarioController,
  kubernetes: attachKindController,
};

export async function scenarioController(options: ScenarioControllerOptions): Promise<ScenarioController> {
  const open = (SUBSTRATE_NAMES as readonly string[]).includes(options.substrate) ? CONTROLLERS[options.substrate as SubstrateName] : undefined;
  if (open === undefined) throw new McpWarmError('USAGE_INVALID', `unknown substrate ${JSON.stringify(options.substrate)} (known: ${SUBSTRATE_NAMES.join(', ')})`);
  return open(options);
}

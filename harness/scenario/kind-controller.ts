/**
 * A scenario's pool controller on the kubernetes substrate: the one `mcpwarm kind up` deployed,
 * reached through its NodePort. Its pool (size, hot tier, allowlist) is the deployment's
 * (deploy/overlays/kind), so a scenario only checks that what it needs is there; the run ends the
 * activations it made and leaves the cluster as it found it. The cluster is MCPWARM_KIND_CLUSTER,
 * else `mcpwarm` (as `kind up`).
 */
import { join } from 'node:path';
import { McpWarmError } from '../../runner/errors.js';
import { openKindTarget } from '../cluster/kind-target.js';
import { mcpwarmHome } from '../cli/paths.js';
import { controllerClient } from './controller-client.js';
import type { ScenarioController, ScenarioControllerOptions } from './pool-controller.js';

export const KIND_CLUSTER_ENV = 'MCPWARM_KIND_CLUSTER';

export async function attachKindController(options: ScenarioControllerOptions): Promise<ScenarioController> {
  const name = process.env[KIND_CLUSTER_ENV] ?? 'mcpwarm';
  const target = await openKindTarget({ name, stateDir: join(mcpwarmHome(), `kind-${name}`) });
  const live = new Set<string>();
  const client = controllerClient({ url: target.controllerUrl, token: target.token, name: options.name, what: `the mcpwarm controller of the kind cluster ${name}`, live, ...(options.hot ? { hot: options.hot } : {}) });
  const shelves = (await client.pool()).hot ?? [];
  const missing = (options.hot ?? []).filter((wanted) => !shelves.some((shelf) => shelf.image === wanted.image));
  if (missing.length > 0) {
    throw new McpWarmError('USAGE_INVALID', `the controller of the kind cluster ${name} keeps no hot instances of ${missing.map((m) => m.image).join(', ')}`, {
      hint: 'Its hot tier is set by the deployment: --hot=IMAGE=MIN in deploy/overlays/kind (then mcpwarm kind up).',
      details: { missing: missing.map((m) => m.image), hot: shelves.map((s) => s.image) },
    });
  }
  options.teardown.push(`activations made on the kind cluster ${name}`, async () => {
    await Promise.all([...live].map((id) => client.end(id).catch(() => undefined)));
  });
  return client;
}

/** Which cluster and namespace: `--kubeconfig FILE`, else KUBECONFIG or ~/.kube/config, else the pod's service account (in-cluster). */
import { KubeConfig } from '@kubernetes/client-node';
import { McpWarmError } from '../../errors.js';

export interface KubeTarget {
  config: KubeConfig;
  /** The API server's URL, for messages. */
  server: string;
  namespace: string;
}

export function loadKubeTarget(options: { kubeconfig?: string; namespace?: string }): KubeTarget {
  const config = new KubeConfig();
  try {
    if (options.kubeconfig !== undefined) config.loadFromFile(options.kubeconfig);
    else config.loadFromDefault();
  } catch (error) {
    const source = options.kubeconfig ?? process.env.KUBECONFIG ?? 'the default kubeconfig';
    throw new McpWarmError('USAGE_INVALID', `cannot load the kubeconfig ${source}: ${(error as Error).message}`, { cause: error });
  }
  const cluster = config.getCurrentCluster();
  if (cluster === null) throw new McpWarmError('USAGE_INVALID', `the kubeconfig ${options.kubeconfig ?? '(default)'} has no current context with a cluster`);
  const contextNamespace = config.getContextObject(config.getCurrentContext())?.namespace;
  return { config, server: cluster.server, namespace: options.namespace ?? contextNamespace ?? 'default' };
}

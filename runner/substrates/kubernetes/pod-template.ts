/**
 * The pod every runner is made from: a YAML file holding one Pod manifest (in a cluster, the
 * ConfigMap deploy/base/runner-pod.yaml mounted into the controller), else the built-in default
 * below, which matches that file but for its image.
 */
import { readFile } from 'node:fs/promises';
import type { V1Pod } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { McpWarmError } from '../../errors.js';
import { agentContainer, AGENT_PORT_NAME } from './pod-runner.js';

export const DEFAULT_RUNNER_IMAGE = 'mcpwarm/runner:latest';
const AGENT_PORT = 8080;

/**
 * Runners are single use (restartPolicy Never: a runner whose agent died is replaced, never
 * restarted with what its servers left behind), run without the API token of the namespace's
 * service account, and get the capabilities their sandbox needs (overlay mounts and namespaces),
 * never a privileged container.
 */
export function defaultPodTemplate(image = DEFAULT_RUNNER_IMAGE): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { labels: { 'app.kubernetes.io/name': 'mcpwarm' } },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 10,
      containers: [
        {
          name: 'agent',
          image,
          // The runner image's entrypoint is `mcpwarm agent`: these are its flags.
          args: ['--host=0.0.0.0', `--port=${AGENT_PORT}`, '--cache=/var/cache/mcpwarm'],
          ports: [{ name: AGENT_PORT_NAME, containerPort: AGENT_PORT, protocol: 'TCP' }],
          readinessProbe: { httpGet: { path: '/ready', port: AGENT_PORT_NAME }, periodSeconds: 1, failureThreshold: 3 },
          livenessProbe: { httpGet: { path: '/health', port: AGENT_PORT_NAME }, periodSeconds: 10, failureThreshold: 3 },
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2', memory: '1Gi' } },
          securityContext: {
            privileged: false,
            allowPrivilegeEscalation: true,
            capabilities: { drop: ['ALL'], add: ['SYS_ADMIN', 'SYS_CHROOT', 'NET_ADMIN', 'SETUID', 'SETGID', 'SETPCAP', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'MKNOD', 'KILL'] },
            seccompProfile: { type: 'Unconfined' },
            appArmorProfile: { type: 'Unconfined' },
          },
          volumeMounts: [{ name: 'cache', mountPath: '/var/cache/mcpwarm' }],
        },
      ],
      volumes: [{ name: 'cache', emptyDir: { sizeLimit: '10Gi' } }],
    },
  };
}

/** The pod template in `file` (YAML or JSON, one Pod), checked for what runners need. */
export async function loadPodTemplate(file: string): Promise<V1Pod> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new McpWarmError('USAGE_INVALID', `cannot read the runner pod template ${file}: ${(error as Error).message}`, { cause: error });
  }
  let pod: V1Pod;
  try {
    pod = parse(text) as V1Pod;
  } catch (error) {
    throw new McpWarmError('USAGE_INVALID', `${file} is not YAML: ${(error as Error).message}`, { cause: error });
  }
  if (pod === null || typeof pod !== 'object' || (pod.kind !== undefined && pod.kind !== 'Pod')) {
    throw new McpWarmError('USAGE_INVALID', `${file}: expected one Pod manifest (kind: Pod)`);
  }
  agentContainer(pod, file);
  return pod;
}

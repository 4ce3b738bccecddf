/**
 * deploy/ as kubectl renders it: every object of the base and the kind overlay validates against
 * the Kubernetes schemas (kubernetes-models), the Role grants exactly the API calls the
 * kubernetes substrate makes, nothing is privileged, the shipped runner pod is the substrate's
 * built-in default, and the pieces fit together (probes, resources, scrape annotations, the
 * NetworkPolicy, the NodePort kind-config.yaml publishes, the images the overlay names).
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import * as kubernetesModels from 'kubernetes-models';
import { parse, parseAllDocuments } from 'yaml';
import { findExecutable, run } from '../runner/exec.js';
import { parseImageSpec } from '../runner/oci/build/spec.js';
import { API_CALLS } from '../runner/substrates/kubernetes/api-calls.js';
import { defaultPodTemplate } from '../runner/substrates/kubernetes/pod-template.js';

const kubectl = findExecutable('kubectl');
if (kubectl === undefined && process.env.CI === 'true') throw new Error('kubectl (with kustomize) is required under CI');

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string> }; [key: string]: any };

async function render(dir: string): Promise<Manifest[]> {
  const text = await run(kubectl!, ['kustomize', dir]);
  return parseAllDocuments(text).map((doc) => doc.toJSON() as Manifest);
}

/** The kubernetes-models class for an object's apiVersion and kind (`rbac.authorization.k8s.io/v1` is `rbacAuthorizationK8sIo.v1`). */
function modelOf(manifest: Manifest): new (data: unknown) => { validate(): void } {
  const [group, version] = manifest.apiVersion.includes('/') ? manifest.apiVersion.split('/') : ['', manifest.apiVersion];
  const groupKey = group!.split('.').map((part, i) => (i === 0 ? part : part[0]!.toUpperCase() + part.slice(1))).join('');
  const models = kubernetesModels as unknown as Record<string, Record<string, Record<string, unknown>>>;
  const model = (group === '' ? models[version!] : models[groupKey]?.[version!])?.[manifest.kind];
  if (typeof model !== 'function') throw new Error(`no schema for ${manifest.apiVersion} ${manifest.kind}`);
  return model as new (data: unknown) => { validate(): void };
}

function find(manifests: Manifest[], kind: string, name?: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  if (!found) throw new Error(`no ${kind} ${name ?? ''} in the rendered manifests`);
  return found;
}

/** Every key path in an object whose key is `privileged` and whose value is true. */
function privilegedPaths(value: unknown, path = ''): string[] {
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, child]) => [...(key === 'privileged' && child === true ? [`${path}.${key}`] : []), ...privilegedPaths(child, `${path}.${key}`)]);
}

function runnerPodOf(manifests: Manifest[]): Manifest {
  const configMap = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name.startsWith('mcpwarm-runner-pod'));
  return parse(configMap!.data['runner-pod.yaml']) as Manifest;
}

describe.skipIf(kubectl === undefined)('deploy/', () => {
  it.each(['deploy/base', 'deploy/overlays/kind'])('%s renders, and every object validates against the Kubernetes schemas', async (dir) => {
    const manifests = await render(dir);
    expect(manifests.map((m) => m.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'Namespace', 'NetworkPolicy', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Service', 'ServiceAccount']);
    for (const manifest of manifests) {
      const Model = modelOf(manifest);
      expect(() => new Model(manifest).validate(), `${manifest.kind} ${manifest.metadata.name}`).not.toThrow();
      if (manifest.kind !== 'Namespace') expect(manifest.metadata.namespace, manifest.kind).toBe('mcpwarm');
    }
    const runnerPod = runnerPodOf(manifests);
    const Pod = modelOf(runnerPod);
    expect(() => new Pod(runnerPod).validate()).not.toThrow();
    expect(privilegedPaths([...manifests, runnerPod])).toEqual([]);
  });

  it('refuses an object that breaks the schema (the validation above can fail)', async () => {
    const deployment = (await render('deploy/base')).find((m) => m.kind === 'Deployment')!;
    const Model = modelOf(deployment);
    expect(() => new Model({ ...deployment, spec: { ...deployment.spec, replicas: 'two' } }).validate()).toThrow(/replicas/);
    expect(() => new Model({ ...deployment, spec: { ...deployment.spec, selector: undefined } }).validate()).toThrow(/selector/);
  });

  it('grants the controller exactly the API calls the substrate and its leader election make', async () => {
    const manifests = await render('deploy/base');
    const granted = find(manifests, 'Role', 'mcpwarm-controller').rules.flatMap((rule: { apiGroups: string[]; resources: string[]; verbs: string[] }) =>
      rule.apiGroups.flatMap((group) => rule.resources.flatMap((resource) => rule.verbs.map((verb) => `${verb} ${resource} ${group}`))),
    );
    const used = Object.values(API_CALLS).map((call) => `${call.verb} ${call.resource} ${call.group}`);
    expect([...granted].sort()).toEqual([...new Set(used)].sort());
    const binding = find(manifests, 'RoleBinding', 'mcpwarm-controller');
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'mcpwarm-controller', namespace: 'mcpwarm' }]);
    expect(find(manifests, 'Deployment', 'mcpwarm-controller').spec.template.spec.serviceAccountName).toBe('mcpwarm-controller');
  });

  it('ships the built-in runner pod as deploy/base/runner-pod.yaml', async () => {
    const shipped = runnerPodOf(await render('deploy/base'));
    expect(shipped).toEqual(defaultPodTemplate(shipped.spec.containers[0].image));
    expect(shipped.spec.restartPolicy).toBe('Never');
    expect(shipped.spec.automountServiceAccountToken).toBe(false);
  });

  it('runs two probed, bounded controller replicas with scrape annotations, a PDB and a Service', async () => {
    const manifests = await render('deploy/base');
    const deployment = find(manifests, 'Deployment', 'mcpwarm-controller');
    expect(deployment.spec.replicas).toBe(2);
    const pod = deployment.spec.template;
    expect(pod.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8090', 'prometheus.io/path': '/metrics' });
    const runnerPod = runnerPodOf(manifests);
    for (const container of [...pod.spec.containers, ...runnerPod.spec.containers]) {
      expect(container.readinessProbe.httpGet.path, container.name).toBe('/ready');
      expect(container.livenessProbe.httpGet.path, container.name).toBe('/health');
      expect(Object.keys(container.resources.requests).sort(), container.name).toEqual(['cpu', 'memory']);
      expect(Object.keys(container.resources.limits).sort(), container.name).toEqual(['cpu', 'memory']);
    }
    expect(pod.spec.containers[0].securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(runnerPod.spec.containers[0].securityContext.capabilities.drop).toEqual(['ALL']);
    expect(runnerPod.spec.containers[0].securityContext.capabilities.add).toContain('SYS_ADMIN');
    const pdb = find(manifests, 'PodDisruptionBudget');
    expect(pdb.spec).toEqual({ minAvailable: 1, selector: deployment.spec.selector });
    expect(find(manifests, 'Service').spec.selector).toEqual(deployment.spec.selector.matchLabels);
  });

  it('lets runners take traffic only from the controller and reach only DNS and registries', async () => {
    const manifests = await render('deploy/base');
    const policy = find(manifests, 'NetworkPolicy', 'mcpwarm-runners');
    expect(policy.spec.podSelector.matchLabels).toEqual({ 'app.kubernetes.io/component': 'mcp-runner' });
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    const controllerLabels = find(manifests, 'Deployment').spec.template.metadata.labels;
    expect(policy.spec.ingress).toHaveLength(1);
    for (const [key, value] of Object.entries(policy.spec.ingress[0].from[0].podSelector.matchLabels)) expect(controllerLabels[key]).toBe(value);
    const agentPort = runnerPodOf(manifests).spec.containers[0].ports[0].containerPort;
    expect(policy.spec.ingress[0].ports).toEqual([{ port: agentPort, protocol: 'TCP' }]);
    const egressPorts = policy.spec.egress.flatMap((rule: { ports: Array<{ port: number }> }) => rule.ports.map((p) => p.port));
    expect(egressPorts.sort((a: number, b: number) => a - b)).toEqual([53, 53, 443, 5000]);
  });

  it('points the kind overlay at the local registry and the NodePort kind-config.yaml publishes', async () => {
    const manifests = await render('deploy/overlays/kind');
    const deployment = find(manifests, 'Deployment', 'mcpwarm-controller');
    expect(deployment.spec.template.spec.containers[0].image).toBe('localhost:5001/mcpwarm/controller:dev');
    expect(deployment.spec.template.spec.containers[0].args).toContain('--runner-image=localhost:5001/mcpwarm/runner:dev');
    const service = find(manifests, 'Service');
    expect(service.spec.type).toBe('NodePort');
    const kindConfig = parse(await readFile('kind-config.yaml', 'utf8')) as { nodes: Array<{ role: string; extraPortMappings?: Array<{ containerPort: number }> }>; containerdConfigPatches: string[] };
    const mapped = kindConfig.nodes.flatMap((node) => node.extraPortMappings ?? []).map((m) => m.containerPort);
    expect(mapped).toContain(service.spec.ports[0].nodePort);
    expect(kindConfig.nodes.filter((node) => node.role === 'control-plane')).toHaveLength(1);
    expect(kindConfig.nodes.filter((node) => node.role === 'worker').length).toBeGreaterThan(0);
    expect(kindConfig.containerdConfigPatches.join('\n')).toContain('config_path = "/etc/containerd/certs.d"');
  });
});

describe('image specs', () => {
  it('describes the controller image for mcpwarm image build', async () => {
    const file = 'scenarios/images/controller.image.yaml';
    const { spec, problems } = parseImageSpec(await readFile(file, 'utf8'), file);
    expect(problems).toEqual([]);
    expect(spec?.config.entrypoint).toEqual(['/usr/local/bin/node', '/opt/mcpwarm/dist/harness/cli/main.js', 'controller']);
    expect(spec?.config.user).toBe('1000:1000');
  });
});

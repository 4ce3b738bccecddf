/**
 * A local kind cluster with mcpwarm deployed (`mcpwarm kind up|down`): the tools checked first,
 * then a plan of steps made from what already exists (so `up` can be run again after a failure)
 * and carried out one by one. The planning is pure (tested without Docker or kind); the steps
 * run docker, kind and kubectl, and build and push the images in-process (mcpwarm image build).
 *
 * The local registry follows kind's guide and KEP-1755: a `registry:2` container named
 * kind-registry, published on 127.0.0.1:5001, joined to the `kind` network; containerd on every
 * node maps localhost:5001 to it (certs.d hosts.toml), and the ConfigMap local-registry-hosting in
 * kube-public tells tools where it is.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { McpWarmError } from '../../runner/errors.js';
import { findExecutable, run } from '../../runner/exec.js';
import { buildAndPublish } from '../../runner/oci/build/publish.js';

export interface KindOptions {
  /** Cluster name (kind's --name); kubectl's context is kind-NAME. */
  name: string;
  workers: number;
  /** The repository: kind-config.yaml, deploy/, scenarios/images/. */
  root: string;
  /** Where the generated kind config and the tokens are kept. */
  stateDir: string;
}

export const REGISTRY_NAME = 'kind-registry';
export const REGISTRY_HOST_PORT = 5001;
export const REGISTRY_IMAGE = 'registry:2';
export const NAMESPACE = 'mcpwarm';
/** Where kind-config.yaml publishes the controller's NodePort. */
export const CONTROLLER_URL = 'http://127.0.0.1:8090';

export interface KindTool {
  name: string;
  hint: string;
}

export const KIND_TOOLS: readonly KindTool[] = [
  { name: 'docker', hint: 'apt-get install docker.io, then start the engine (mcpwarm docker up)' },
  { name: 'kind', hint: 'kind is a Go binary: go install sigs.k8s.io/kind@latest, or a release from https://kind.sigs.k8s.io/docs/user/quick-start/#installation' },
  { name: 'kubectl', hint: 'https://kubernetes.io/docs/tasks/tools/ (the Kubernetes apt repository has the kubectl package)' },
];

/** Every tool's path; TOOL_MISSING naming all that are missing and how to get each. */
export function checkKindTools(find: (name: string) => string | undefined = findExecutable): Record<string, string> {
  const found: Record<string, string> = {};
  const missing: KindTool[] = [];
  for (const tool of KIND_TOOLS) {
    const path = find(tool.name);
    if (path === undefined) missing.push(tool);
    else found[tool.name] = path;
  }
  if (missing.length > 0) {
    throw new McpWarmError('TOOL_MISSING', `mcpwarm kind needs ${missing.map((t) => t.name).join(', ')}, not found on PATH`, {
      hint: missing.map((t) => `${t.name}: ${t.hint}`).join('; '),
      details: { missing: missing.map((t) => t.name) },
    });
  }
  return found;
}

/** kind-config.yaml with the cluster's name and `workers` worker nodes (the control plane as it is). */
export function kindClusterConfig(baseYaml: string, options: { name: string; workers: number }): string {
  if (!Number.isInteger(options.workers) || options.workers < 0 || options.workers > 10) {
    throw new McpWarmError('USAGE_INVALID', `--workers ${options.workers}: expected a whole number from 0 to 10`);
  }
  const config = parse(baseYaml) as { name?: string; nodes?: Array<{ role: string }> };
  const controlPlanes = (config.nodes ?? [{ role: 'control-plane' }]).filter((node) => node.role === 'control-plane');
  return stringify({ ...config, name: options.name, nodes: [...controlPlanes, ...Array.from({ length: options.workers }, () => ({ role: 'worker' }))] });
}

/** How many workers a kind config has. */
export function configuredWorkers(baseYaml: string): number {
  return ((parse(baseYaml) as { nodes?: Array<{ role: string }> }).nodes ?? []).filter((node) => node.role === 'worker').length;
}

/** containerd's certs.d directory for the registry's host name, and its hosts.toml (plain HTTP to the registry container). */
export function registryHostsToml(): { dir: string; toml: string } {
  return {
    dir: `/etc/containerd/certs.d/localhost:${REGISTRY_HOST_PORT}`,
    toml: `[host."http://${REGISTRY_NAME}:5000"]\n`,
  };
}

/** KEP-1755: where the cluster's local registry is, for tools that push to it. */
export function localRegistryHostingConfigMap(): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'local-registry-hosting', namespace: 'kube-public' },
    data: {
      'localRegistryHosting.v1': stringify({
        host: `localhost:${REGISTRY_HOST_PORT}`,
        hostFromContainerRuntime: `${REGISTRY_NAME}:5000`,
        hostFromClusterNetwork: `${REGISTRY_NAME}:5000`,
        help: 'https://kind.sigs.k8s.io/docs/user/local-registry/',
      }),
    },
  });
}

export interface Tokens {
  runner: string;
  api: string;
}

/** The namespace and the two Secrets the deployment reads its tokens from. */
export function secretsManifest(tokens: Tokens): string {
  const secret = (name: string, key: string, value: string) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NAMESPACE }, type: 'Opaque', stringData: { [key]: value } });
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } },
    secret('mcpwarm-runner-token', 'runner-token', tokens.runner),
    secret('mcpwarm-api-token', 'token', tokens.api),
  ]
    .map((doc) => stringify(doc))
    .join('---\n');
}

export type KindStep =
  | { kind: 'run'; title: string; argv: string[]; input?: string }
  | { kind: 'write-file'; title: string; path: string; content: string }
  | { kind: 'configure-nodes'; title: string }
  | { kind: 'build-image'; title: string; spec: string; tag: string }
  | { kind: 'wait-ready'; title: string; url: string; timeoutMs: number };

/** What exists already. */
export interface KindState {
  registry: 'absent' | 'stopped' | 'running';
  registryOnKindNetwork: boolean;
  clusterExists: boolean;
}

export const IMAGES = [
  { spec: 'scenarios/images/runner.image.yaml', tag: `localhost:${REGISTRY_HOST_PORT}/mcpwarm/runner:dev` },
  { spec: 'scenarios/images/controller.image.yaml', tag: `localhost:${REGISTRY_HOST_PORT}/mcpwarm/controller:dev` },
  { spec: 'scenarios/images/fixture.image.yaml', tag: `localhost:${REGISTRY_HOST_PORT}/mcp/fixture:1` },
];

export function planKindUp(options: KindOptions, state: KindState, files: { baseConfig: string; tokens: Tokens }): KindStep[] {
  const context = `kind-${options.name}`;
  const configPath = join(options.stateDir, 'kind-config.yaml');
  const steps: KindStep[] = [];
  if (state.registry === 'absent') {
    steps.push({ kind: 'run', title: `start the local registry ${REGISTRY_NAME} on 127.0.0.1:${REGISTRY_HOST_PORT}`, argv: ['docker', 'run', '-d', '--restart=always', '-p', `127.0.0.1:${REGISTRY_HOST_PORT}:5000`, '--name', REGISTRY_NAME, REGISTRY_IMAGE] });
  } else if (state.registry === 'stopped') {
    steps.push({ kind: 'run', title: `start the local registry ${REGISTRY_NAME}`, argv: ['docker', 'start', REGISTRY_NAME] });
  }
  if (!state.clusterExists) {
    steps.push({ kind: 'write-file', title: 'write the kind config', path: configPath, content: kindClusterConfig(files.baseConfig, options) });
    steps.push({ kind: 'run', title: `create the kind cluster ${options.name} (${options.workers} workers)`, argv: ['kind', 'create', 'cluster', '--name', options.name, '--config', configPath, '--wait', '180s'] });
  }
  steps.push({ kind: 'configure-nodes', title: `point containerd on every node at ${REGISTRY_NAME} for localhost:${REGISTRY_HOST_PORT}` });
  if (!state.registryOnKindNetwork) steps.push({ kind: 'run', title: `join ${REGISTRY_NAME} to the kind network`, argv: ['docker', 'network', 'connect', 'kind', REGISTRY_NAME] });
  steps.push({ kind: 'run', title: 'publish the local registry (KEP-1755)', argv: ['kubectl', '--context', context, 'apply', '-f', '-'], input: localRegistryHostingConfigMap() });
  for (const image of IMAGES) steps.push({ kind: 'build-image', title: `build and push ${image.tag}`, spec: join(options.root, image.spec), tag: image.tag });
  steps.push({ kind: 'run', title: 'create the namespace and the token Secrets', argv: ['kubectl', '--context', context, 'apply', '-f', '-'], input: secretsManifest(files.tokens) });
  steps.push({ kind: 'run', title: 'apply deploy/overlays/kind', argv: ['kubectl', '--context', context, 'apply', '-k', join(options.root, 'deploy/overlays/kind')] });
  steps.push({ kind: 'run', title: 'wait for the controller rollout', argv: ['kubectl', '--context', context, '-n', NAMESPACE, 'rollout', 'status', 'deployment/mcpwarm-controller', '--timeout=300s'] });
  steps.push({ kind: 'wait-ready', title: `wait until the pool is ready (${CONTROLLER_URL}/ready)`, url: `${CONTROLLER_URL}/ready`, timeoutMs: 300_000 });
  return steps;
}

export function planKindDown(options: Pick<KindOptions, 'name'>, state: KindState): KindStep[] {
  return [
    ...(state.clusterExists ? [{ kind: 'run' as const, title: `delete the kind cluster ${options.name}`, argv: ['kind', 'delete', 'cluster', '--name', options.name] }] : []),
    ...(state.registry !== 'absent' ? [{ kind: 'run' as const, title: `remove the local registry ${REGISTRY_NAME}`, argv: ['docker', 'rm', '-f', REGISTRY_NAME] }] : []),
  ];
}

/** Asks docker and kind what exists. */
export async function inspectKind(name: string): Promise<KindState> {
  const running = await run('docker', ['inspect', '-f', '{{.State.Running}}', REGISTRY_NAME]).then((out) => out.trim(), () => undefined);
  const networks = await run('docker', ['inspect', '-f', '{{json .NetworkSettings.Networks}}', REGISTRY_NAME]).then((out) => JSON.parse(out) as Record<string, unknown>, () => ({}));
  const clusters = (await run('kind', ['get', 'clusters'])).split('\n').map((line) => line.trim());
  return { registry: running === undefined ? 'absent' : running === 'true' ? 'running' : 'stopped', registryOnKindNetwork: 'kind' in networks, clusterExists: clusters.includes(name) };
}

/** The tokens of this installation, made once and kept in the state directory. */
export async function kindTokens(stateDir: string): Promise<Tokens> {
  const path = join(stateDir, 'tokens.json');
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Tokens;
  } catch {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const tokens = { runner: randomBytes(24).toString('base64url'), api: randomBytes(24).toString('base64url') };
    await writeFile(path, JSON.stringify(tokens), { mode: 0o600 });
    return tokens;
  }
}

async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
      last = `${response.status} ${await response.text()}`;
      if (response.status === 200) return;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(1000);
  }
  throw new McpWarmError('SERVICE_UNREACHABLE', `the pool at ${url} was not ready within ${timeoutMs / 1000} s (last: ${last.slice(0, 300)})`);
}

/** Carries out one step. */
export async function runKindStep(step: KindStep, options: Pick<KindOptions, 'name'>): Promise<void> {
  switch (step.kind) {
    case 'run':
      await run(step.argv[0]!, step.argv.slice(1), step.input !== undefined ? { input: step.input } : {});
      return;
    case 'write-file':
      await mkdir(join(step.path, '..'), { recursive: true });
      await writeFile(step.path, step.content);
      return;
    case 'configure-nodes': {
      const { dir, toml } = registryHostsToml();
      const nodes = (await run('kind', ['get', 'nodes', '--name', options.name])).split('\n').map((line) => line.trim()).filter(Boolean);
      for (const node of nodes) {
        await run('docker', ['exec', node, 'mkdir', '-p', dir]);
        await run('docker', ['exec', '-i', node, 'cp', '/dev/stdin', `${dir}/hosts.toml`], { input: toml });
      }
      return;
    }
    case 'build-image':
      await buildAndPublish(step.spec, { tag: step.tag, push: true });
      return;
    case 'wait-ready':
      await waitReady(step.url, step.timeoutMs);
  }
}

import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { runCli } from '../../test/support/cli.js';
import { findExecutable } from '../../runner/exec.js';
import { checkKindTools, configuredWorkers, kindClusterConfig, localRegistryHostingConfigMap, planKindDown, planKindUp, registryHostsToml, secretsManifest, type KindState } from './kind.js';

const baseConfig = await readFile(new URL('../../kind-config.yaml', import.meta.url), 'utf8');
const options = { name: 'dev', workers: 3, root: '/repo', stateDir: '/state' };
const tokens = { runner: 'runner-secret', api: 'api-secret' };
const fresh: KindState = { registry: 'absent', registryOnKindNetwork: false, clusterExists: false };

describe('checkKindTools', () => {
  it('names every missing tool and how to get it', () => {
    let error: any;
    try {
      checkKindTools((name) => (name === 'docker' ? '/usr/bin/docker' : undefined));
    } catch (caught) {
      error = caught;
    }
    expect(error.code).toBe('TOOL_MISSING');
    expect(error.message).toContain('kind, kubectl');
    expect(error.hint).toContain('go install sigs.k8s.io/kind');
    expect(error.details).toEqual({ missing: ['kind', 'kubectl'] });
    expect(checkKindTools((name) => `/bin/${name}`)).toEqual({ docker: '/bin/docker', kind: '/bin/kind', kubectl: '/bin/kubectl' });
  });
});

describe('kindClusterConfig', () => {
  it('keeps the control plane, its port mapping and the containerd patch, and sets the name and the workers', () => {
    expect(configuredWorkers(baseConfig)).toBe(2);
    const config = parse(kindClusterConfig(baseConfig, { name: 'dev', workers: 3 }));
    expect(config.name).toBe('dev');
    expect(config.nodes.map((n: { role: string }) => n.role)).toEqual(['control-plane', 'worker', 'worker', 'worker']);
    expect(config.nodes[0].extraPortMappings).toEqual([{ containerPort: 30090, hostPort: 8090, listenAddress: '127.0.0.1', protocol: 'TCP' }]);
    expect(config.containerdConfigPatches[0]).toContain('config_path = "/etc/containerd/certs.d"');
    expect(parse(kindClusterConfig(baseConfig, { name: 'solo', workers: 0 })).nodes).toHaveLength(1);
    expect(() => kindClusterConfig(baseConfig, { name: 'x', workers: -1 })).toThrow(expect.objectContaining({ code: 'USAGE_INVALID' }));
  });
});

describe('the local registry', () => {
  it('maps localhost:5001 on the nodes to the registry container over plain HTTP', () => {
    expect(registryHostsToml()).toEqual({ dir: '/etc/containerd/certs.d/localhost:5001', toml: '[host."http://kind-registry:5000"]\n' });
  });

  it('publishes it as KEP-1755 says: ConfigMap local-registry-hosting in kube-public', () => {
    const configMap = parse(localRegistryHostingConfigMap());
    expect(configMap.metadata).toEqual({ name: 'local-registry-hosting', namespace: 'kube-public' });
    expect(parse(configMap.data['localRegistryHosting.v1'])).toMatchObject({ host: 'localhost:5001', hostFromContainerRuntime: 'kind-registry:5000' });
  });
});

describe('secretsManifest', () => {
  it('makes the namespace and the two token Secrets the deployment reads', () => {
    const docs = parseAllDocuments(secretsManifest(tokens)).map((d) => d.toJSON());
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual(['Namespace/mcpwarm', 'Secret/mcpwarm-runner-token', 'Secret/mcpwarm-api-token']);
    expect(docs[1].stringData).toEqual({ 'runner-token': 'runner-secret' });
    expect(docs[2].stringData).toEqual({ token: 'api-secret' });
  });
});

describe('planKindUp', () => {
  it('on a fresh machine: registry, cluster, nodes, network, KEP-1755, images, secrets, deploy, waits', () => {
    const steps = planKindUp(options, fresh, { baseConfig, tokens });
    expect(steps.map((s) => s.kind)).toEqual(['run', 'write-file', 'run', 'configure-nodes', 'run', 'run', 'build-image', 'build-image', 'build-image', 'run', 'run', 'run', 'wait-ready']);
    const argv = steps.flatMap((s) => (s.kind === 'run' ? [s.argv.join(' ')] : []));
    expect(argv[0]).toBe('docker run -d --restart=always -p 127.0.0.1:5001:5000 --name kind-registry registry:2');
    expect(argv[1]).toBe('kind create cluster --name dev --config /state/kind-config.yaml --wait 180s');
    expect(argv[2]).toBe('docker network connect kind kind-registry');
    expect(argv.slice(3)).toEqual([
      'kubectl --context kind-dev apply -f -',
      'kubectl --context kind-dev apply -f -',
      'kubectl --context kind-dev apply -k /repo/deploy/overlays/kind',
      'kubectl --context kind-dev -n mcpwarm rollout status deployment/mcpwarm-controller --timeout=300s',
    ]);
    expect(steps.flatMap((s) => (s.kind === 'build-image' ? [s.tag] : []))).toEqual(['localhost:5001/mcpwarm/runner:dev', 'localhost:5001/mcpwarm/controller:dev', 'localhost:5001/mcp/fixture:1']);
    const config = steps.find((s) => s.kind === 'write-file');
    expect(config?.kind === 'write-file' && parse(config.content).nodes).toHaveLength(4);
  });

  it('again on a machine where it all exists: no new registry or cluster, the rest applied again', () => {
    const steps = planKindUp(options, { registry: 'running', registryOnKindNetwork: true, clusterExists: true }, { baseConfig, tokens });
    expect(steps.map((s) => s.title).join('\n')).not.toMatch(/start the local registry|create the kind cluster|join/);
    expect(steps[0]?.kind).toBe('configure-nodes');
    const stopped = planKindUp(options, { registry: 'stopped', registryOnKindNetwork: true, clusterExists: true }, { baseConfig, tokens });
    expect(stopped[0]).toMatchObject({ kind: 'run', argv: ['docker', 'start', 'kind-registry'] });
  });
});

describe('planKindDown', () => {
  it('removes what exists, and nothing else', () => {
    expect(planKindDown(options, { registry: 'running', registryOnKindNetwork: true, clusterExists: true }).map((s) => (s.kind === 'run' ? s.argv.join(' ') : ''))).toEqual([
      'kind delete cluster --name dev',
      'docker rm -f kind-registry',
    ]);
    expect(planKindDown(options, fresh)).toEqual([]);
  });
});

describe.skipIf(findExecutable('kind') !== undefined)('mcpwarm kind up, where kind is not installed', () => {
  it('exits 1 with TOOL_MISSING naming kind and how to get it, having changed nothing', async () => {
    const result = await runCli(['kind', 'up', '--json']);
    expect(result.code).toBe(1);
    expect(result.json).toMatchObject({ error: { code: 'TOOL_MISSING' } });
    expect(result.stderr).toMatch(/needs .*kind/);
    expect(result.stderr).toContain('go install sigs.k8s.io/kind');
  });
});

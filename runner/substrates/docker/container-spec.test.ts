import { describe, expect, it } from 'vitest';
import { CONTAINER_AGENT_PORT, CONTAINER_CACHE_DIR, CONTAINER_TOKEN_FILE, LABELS, runnerContainerSpec, runnerPrivileges, stateDirFilter } from './container-spec.js';

const paths = { dir: '/state/runners/runner-0a1b2c3d4e5f', cacheDir: '/state/runners/runner-0a1b2c3d4e5f/cache', tokenFile: '/state/runners/runner-0a1b2c3d4e5f/token' };
const input = { id: 'runner-0a1b2c3d4e5f', template: { pool: 'pool-a', token: 'secret', allow: ['reg/*'] }, paths, image: 'mcpwarm-runner:abc', stateDir: '/state', network: 'host' };

describe('runnerPrivileges', () => {
  it('grants CAP_SYS_ADMIN with AppArmor and seccomp unconfined, and unmasks /proc only for bwrap and auto', () => {
    const base = { CapAdd: ['SYS_ADMIN'], SecurityOpt: ['apparmor=unconfined', 'seccomp=unconfined'] };
    expect(runnerPrivileges(undefined)).toEqual({ ...base, MaskedPaths: [], ReadonlyPaths: [] });
    expect(runnerPrivileges('auto')).toEqual({ ...base, MaskedPaths: [], ReadonlyPaths: [] });
    expect(runnerPrivileges('bwrap')).toEqual({ ...base, MaskedPaths: [], ReadonlyPaths: [] });
    expect(runnerPrivileges('chroot')).toEqual(base);
    expect(runnerPrivileges('none')).toEqual(base);
  });
});

describe('runnerContainerSpec', () => {
  it('labels the container, binds the cache and the token (read-only) and runs the agent on the host network', () => {
    const spec = runnerContainerSpec(input);
    expect(spec).toMatchObject({
      name: 'mcpwarm-runner-0a1b2c3d4e5f',
      Image: 'mcpwarm-runner:abc',
      Labels: { [LABELS.pool]: 'pool-a', [LABELS.runner]: 'runner-0a1b2c3d4e5f', [LABELS.stateDir]: '/state' },
      Cmd: ['--port=0', '--host=127.0.0.1', `--cache=${CONTAINER_CACHE_DIR}`, `--token-file=${CONTAINER_TOKEN_FILE}`, '--allow=reg/*'],
      HostConfig: {
        NetworkMode: 'host',
        Init: true,
        Mounts: [
          { Type: 'bind', Source: paths.cacheDir, Target: CONTAINER_CACHE_DIR },
          { Type: 'bind', Source: paths.tokenFile, Target: CONTAINER_TOKEN_FILE, ReadOnly: true },
        ],
        CapAdd: ['SYS_ADMIN'],
      },
    });
    expect(spec.Entrypoint).toBeUndefined();
    expect(spec.HostConfig?.Privileged).toBeUndefined();
    expect(JSON.stringify(spec)).not.toContain('secret');
  });

  it('listens on every address at a fixed port in a network of its own, and takes an agent command', () => {
    const spec = runnerContainerSpec({ ...input, network: 'mcpwarm-net', agentCommand: ['/bin/agent', '--'] });
    expect(spec.Cmd?.slice(0, 2)).toEqual([`--port=${CONTAINER_AGENT_PORT}`, '--host=0.0.0.0']);
    expect(spec.HostConfig?.NetworkMode).toBe('mcpwarm-net');
    expect(spec.Entrypoint).toEqual(['/bin/agent', '--']);
  });
});

describe('stateDirFilter', () => {
  it('is the label filter of one state directory', () => {
    expect(stateDirFilter('/state')).toBe(`${LABELS.stateDir}=/state`);
  });
});

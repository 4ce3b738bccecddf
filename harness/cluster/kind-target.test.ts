import { describe, expect, it } from 'vitest';
import { caught } from '../../test/support/caught.js';
import { IN_CLUSTER_REGISTRY, openKindTarget } from './kind-target.js';

describe('openKindTarget', () => {
  it('checks the tools before anything else: TOOL_MISSING naming each missing one and how to get it', async () => {
    const asked: string[] = [];
    const error = await caught(
      openKindTarget({
        name: 'mcpwarm',
        stateDir: '/nonexistent/kind-mcpwarm',
        find: (tool) => {
          asked.push(tool);
          return tool === 'docker' ? '/usr/bin/docker' : undefined;
        },
      }),
    );
    expect(error.code).toBe('TOOL_MISSING');
    expect(error.message).toContain('kind, kubectl');
    expect(error.details).toEqual({ missing: ['kind', 'kubectl'] });
    expect(error.hint).toContain('go install sigs.k8s.io/kind');
    expect(asked).toEqual(['docker', 'kind', 'kubectl']);
  });

  it('names images as runner pods reach the registry container', () => {
    expect(IN_CLUSTER_REGISTRY).toBe('kind-registry:5000');
  });
});

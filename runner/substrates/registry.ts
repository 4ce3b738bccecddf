/** The substrates a controller can run its pool on, by the name given in its flags. */
import { McpWarmError } from '../errors.js';
import { DockerSubstrate, type DockerSubstrateOptions } from './docker/index.js';
import { KubernetesSubstrate, type KubernetesSubstrateOptions } from './kubernetes/index.js';
import { ProcessSubstrate, type ProcessSubstrateOptions } from './process/index.js';
import type { Substrate } from './types.js';

export const SUBSTRATE_NAMES = ['process', 'docker', 'kubernetes'] as const;
export type SubstrateName = (typeof SUBSTRATE_NAMES)[number];

export type SubstrateOptions = ProcessSubstrateOptions & DockerSubstrateOptions & KubernetesSubstrateOptions;

export function createSubstrate(name: string, options: SubstrateOptions): Substrate {
  switch (name) {
    case 'process':
      return new ProcessSubstrate(options);
    case 'docker':
      return new DockerSubstrate(options);
    case 'kubernetes':
      return new KubernetesSubstrate(options);
    default:
      throw new McpWarmError('USAGE_INVALID', `unknown substrate ${JSON.stringify(name)} (known: ${SUBSTRATE_NAMES.join(', ')})`, {
        details: { substrate: name, known: [...SUBSTRATE_NAMES] },
      });
  }
}

/** A runner template as `mcpwarm agent` flags, checked first; and where a started agent says it listens. */
import { McpWarmError } from '../../errors.js';
import type { RunnerTemplate } from '../types.js';

const POOL_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const LISTENING = /agent listening on (http:\/\/[^\s]+)/;

/** Refuses a template no runner can be made from, with USAGE_INVALID listing every problem. */
export function validateTemplate(template: RunnerTemplate): void {
  const problems: string[] = [];
  if (!POOL_PATTERN.test(template.pool)) problems.push(`pool ${JSON.stringify(template.pool)} is not a label value ([A-Za-z0-9._-], at most 63, alphanumeric at both ends)`);
  if (template.token.trim() === '' || /\s/.test(template.token.trim())) problems.push('token must be non-empty and hold no whitespace');
  if (problems.length > 0) throw new McpWarmError('USAGE_INVALID', `invalid runner template: ${problems.join('; ')}`, { details: { problems } });
}

export interface AgentListen {
  host: string;
  /** 0: a free port the agent picks. */
  port: number;
  cacheDir: string;
  tokenFile: string;
}

/** Flags for one runner's agent; `--flag=value` so a value starting with `-` stays a value. */
export function agentFlags(template: RunnerTemplate, where: AgentListen): string[] {
  return [
    `--port=${where.port}`,
    `--host=${where.host}`,
    `--cache=${where.cacheDir}`,
    `--token-file=${where.tokenFile}`,
    ...(template.sandbox !== undefined ? [`--sandbox=${template.sandbox}`] : []),
    ...(template.cacheBudget !== undefined ? [`--cache-size=${template.cacheBudget}`] : []),
    ...(template.allow ?? []).map((pattern) => `--allow=${pattern}`),
    ...(template.insecureRegistries ?? []).map((registry) => `--insecure-registry=${registry}`),
  ];
}

/** The URL in the line `mcpwarm agent` prints once it listens, if `output` has it yet. */
export function listeningUrlIn(output: string): string | undefined {
  return LISTENING.exec(output)?.[1];
}

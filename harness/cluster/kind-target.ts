/**
 * The kind cluster `mcpwarm kind up` made, as a place to run scenarios: its pool controller is
 * reached through the NodePort kind-config.yaml publishes on the host (CONTROLLER_URL), with the
 * API token `kind up` kept, and images are named as runner pods reach the registry container
 * (kind-registry:5000, pushed from the host through localhost:5001). Everything is checked before
 * a scenario starts anything: the tools first (TOOL_MISSING naming each one missing), then the
 * cluster, the tokens and the controller's readiness.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { McpWarmError } from '../../runner/errors.js';
import type { findExecutable } from '../../runner/exec.js';
import { checkKindTools, CONTROLLER_URL, inspectKind, REGISTRY_NAME, type Tokens } from './kind.js';

/** The registry as runner pods reach it (the controller's --allow and --runner-insecure-registry name it). */
export const IN_CLUSTER_REGISTRY = `${REGISTRY_NAME}:5000`;

export interface KindTarget {
  name: string;
  /** kubectl's context for the cluster. */
  context: string;
  controllerUrl: string;
  /** The controller's API token (Secret mcpwarm-api-token). */
  token: string;
  registry: string;
}

export interface KindTargetOptions {
  name: string;
  /** `$MCPWARM_HOME/kind-NAME`, where `kind up` keeps tokens.json. */
  stateDir: string;
  find?: typeof findExecutable;
  /** How long the controller may take to answer /ready (default 5 s). */
  readyTimeoutMs?: number;
}

const NOT_UP_HINT = 'Run `mcpwarm kind up` (or `make kind-up`) first.';

/** Checks that the cluster is up and its pool ready; the target, or the coded reason it is not. */
export async function openKindTarget(options: KindTargetOptions): Promise<KindTarget> {
  checkKindTools(options.find);
  const { name } = options;
  if (!(await inspectKind(name)).clusterExists) {
    throw new McpWarmError('SERVICE_UNREACHABLE', `there is no kind cluster ${name}`, { hint: NOT_UP_HINT, details: { cluster: name } });
  }
  const tokensFile = join(options.stateDir, 'tokens.json');
  const tokens = await readFile(tokensFile, 'utf8').then(
    (text) => JSON.parse(text) as Partial<Tokens>,
    () => ({}) as Partial<Tokens>,
  );
  if (typeof tokens.api !== 'string' || tokens.api === '') {
    throw new McpWarmError('SERVICE_UNREACHABLE', `no API token for the kind cluster ${name} in ${tokensFile}`, { hint: NOT_UP_HINT, details: { cluster: name, tokensFile } });
  }
  await checkReady(`${CONTROLLER_URL}/ready`, options.readyTimeoutMs ?? 5000);
  return { name, context: `kind-${name}`, controllerUrl: CONTROLLER_URL, token: tokens.api, registry: IN_CLUSTER_REGISTRY };
}

async function checkReady(url: string, timeoutMs: number): Promise<void> {
  let answer: string;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (response.status === 200) return;
    answer = `${response.status} ${(await response.text()).slice(0, 300)}`;
  } catch (error) {
    answer = (error as Error).message;
  }
  throw new McpWarmError('SERVICE_UNREACHABLE', `the mcpwarm controller of the kind cluster is not ready at ${url} (${answer})`, {
    hint: `${NOT_UP_HINT} While the cluster's API server is away, /ready is 503 with the reason.`,
    details: { url },
  });
}

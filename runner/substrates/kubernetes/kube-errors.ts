/**
 * Failures of Kubernetes API calls as coded errors: no answer at all is KUBERNETES_UNREACHABLE, a
 * refusal (401, 403) is KUBERNETES_FORBIDDEN naming the verb and resource that must be granted,
 * anything else is SUBSTRATE_FAILED with the API server's own message. Callers that expect a
 * status (404 on delete, 409 on a compare-and-set) test it with `apiStatus` first.
 */
import { ApiException } from '@kubernetes/client-node';
import { McpWarmError } from '../../errors.js';
import { describeCall, type ApiCall } from './api-calls.js';

/** The fields of a Kubernetes `Status` answer that say what went wrong. */
export interface KubeStatus {
  code?: number;
  reason?: string;
  message?: string;
}

/** The HTTP status of a failed call (an API answer, or a watch refused with one), if the server answered. */
export function apiStatus(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The `Status` object the API server sent with a failure, when it sent one. */
export function statusBody(error: unknown): KubeStatus | undefined {
  if (!(error instanceof ApiException)) return undefined;
  const body: unknown = typeof error.body === 'string' ? safeParse(error.body) : error.body;
  return body !== null && typeof body === 'object' ? (body as KubeStatus) : undefined;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

const NETWORK_CODE = /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/;

/** True when the call got no HTTP answer: refused or reset connections, DNS failures, timeouts. */
export function isUnreachable(error: unknown): boolean {
  if (apiStatus(error) !== undefined) return false;
  const candidate = error as { name?: unknown; message?: unknown; code?: unknown; cause?: { code?: unknown } } | null;
  if (candidate === null || typeof candidate !== 'object') return false;
  if (candidate.name === 'TimeoutError' || candidate.name === 'AbortError') return true;
  if (candidate.message === 'fetch failed') return true;
  return [candidate.code, candidate.cause?.code].some((code) => typeof code === 'string' && NETWORK_CODE.test(code));
}

function causeText(error: unknown): string {
  const cause = (error as { cause?: { message?: unknown; code?: unknown } } | null)?.cause;
  const detail = cause?.code ?? cause?.message;
  return `${(error as Error).message}${detail !== undefined ? ` (${String(detail)})` : ''}`;
}

/** The coded error for a failed call; `server` and `namespace` say where it went. */
export function kubeError(call: ApiCall, where: { server: string; namespace: string }, error: unknown): McpWarmError {
  if (error instanceof McpWarmError) return error;
  const what = `${describeCall(call)} in namespace ${where.namespace}`;
  const details = { verb: call.verb, resource: call.resource, group: call.group, namespace: where.namespace, server: where.server };
  if (isUnreachable(error)) {
    return new McpWarmError('KUBERNETES_UNREACHABLE', `the Kubernetes API server at ${where.server} did not answer (${what}): ${causeText(error)}`, {
      cause: error,
      details,
    });
  }
  const status = apiStatus(error);
  const message = statusBody(error)?.message ?? (error as Error).message;
  if (status === 401 || status === 403) {
    const refusal = status === 401 ? 'did not accept the credentials' : 'refused';
    return new McpWarmError('KUBERNETES_FORBIDDEN', `the Kubernetes API server ${refusal}: ${what} (${status}: ${message})`, {
      cause: error,
      details: { ...details, status },
    });
  }
  return new McpWarmError('SUBSTRATE_FAILED', `Kubernetes API call failed: ${what} (${status ?? 'no status'}: ${message})`, {
    cause: error,
    details: { ...details, ...(status !== undefined ? { status } : {}) },
  });
}

/**
 * Which registries may be spoken to over plain HTTP. Loopback registries may; any other only when
 * named (agent `--insecure-registry HOST[:PORT]`, `MCPWARM_INSECURE_REGISTRIES`, or `--insecure`
 * for one command). A registry not named gets HTTPS only: when its port answers in plain HTTP,
 * the pull fails with REGISTRY_INSECURE_REFUSED and is never tried again over HTTP.
 */
import { McpWarmError } from '../errors.js';
import { isLoopbackRegistry } from './reference.js';

/** Comma- or space-separated HOST[:PORT] entries, read by the runner agent. */
export const INSECURE_REGISTRIES_ENV = 'MCPWARM_INSECURE_REGISTRIES';

const ENTRY = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/;

/**
 * Checks and normalizes HOST[:PORT] entries (lower case). `source` names where they came from, for
 * the error: a scheme, a path or a bad port is USAGE_INVALID.
 */
export function parseInsecureRegistries(entries: readonly string[], source: string): string[] {
  const parsed: string[] = [];
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    const match = ENTRY.exec(entry);
    const port = match?.[1] === undefined ? undefined : Number(match[1]);
    if (match === null || (port !== undefined && (port < 1 || port > 65_535))) {
      const why = /^[a-z]+:\/\//.test(entry) ? 'give the registry without a scheme' : entry.includes('/') ? 'give the registry without a path' : 'expected HOST or HOST:PORT';
      throw new McpWarmError('USAGE_INVALID', `${source}: ${JSON.stringify(raw)} is not a registry (${why}, such as kind-registry:5000)`, { details: { entry: raw, source } });
    }
    parsed.push(entry);
  }
  return [...new Set(parsed)];
}

/** The entries of MCPWARM_INSECURE_REGISTRIES (none when it is unset or empty). */
export function insecureRegistriesFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return parseInsecureRegistries((env[INSECURE_REGISTRIES_ENV] ?? '').split(/[\s,]+/), INSECURE_REGISTRIES_ENV);
}

/** `registry` (host[:port]) is named in `entries`: an entry with a port names that port only, one without names every port of the host. */
export function isInsecureRegistry(registry: string, entries: readonly string[]): boolean {
  const wanted = registry.toLowerCase();
  const host = wanted.replace(/:\d+$/, '');
  return entries.some((entry) => entry === wanted || entry === host);
}

export interface PlainHttpPolicy {
  /** Every registry (one command's `--insecure`). */
  insecure?: boolean;
  /** These registries only (HOST[:PORT], as parseInsecureRegistries makes them). */
  insecureRegistries?: readonly string[];
}

/** Whether plain HTTP may be used with `registry`: loopback, or named by the policy. */
export function plainHttpAllowed(registry: string, policy: PlainHttpPolicy): boolean {
  return policy.insecure === true || isLoopbackRegistry(registry) || isInsecureRegistry(registry, policy.insecureRegistries ?? []);
}

/** OpenSSL's errors when the peer of a TLS handshake answered something that is not TLS (plain HTTP). */
const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG']);

/** True when an HTTPS request failed because the server answered in plain HTTP. */
export function answeredPlainHttp(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  return typeof cause?.code === 'string' && NOT_TLS.has(cause.code);
}

/** The error for an HTTPS request to `registry` that a plain-HTTP server answered: never retried over HTTP. */
export function plainHttpRefused(registry: string, url: URL, error: unknown): McpWarmError {
  return new McpWarmError(
    'REGISTRY_INSECURE_REFUSED',
    `${url.origin} answered in plain HTTP, not TLS; ${registry} is not on loopback and not named as an insecure registry, so mcpwarm does not fall back to HTTP`,
    {
      cause: error,
      hint: `If ${registry} is a plain-HTTP registry you trust, name it: agent --insecure-registry ${registry} (or ${INSECURE_REGISTRIES_ENV}=${registry}); for one command, --insecure.`,
      details: { registry, url: url.href },
    },
  );
}

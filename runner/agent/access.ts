/**
 * Who may call the agent and which images it may run: a bearer token compared in constant time,
 * and an image allowlist checked before any network call.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { McpWarmError } from '../errors.js';
import { isLoopbackRegistry, parseSourceReference } from '../oci/reference.js';

export const TOKEN_ENV = 'MCPWARM_TOKEN';

/** The token from `tokenFile`, else from $MCPWARM_TOKEN; undefined when neither is set. */
export async function loadToken(tokenFile: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (tokenFile !== undefined) {
    const token = (await readFile(tokenFile, 'utf8')).trim();
    if (token === '') throw new McpWarmError('AUTH_MISCONFIGURED', `token file ${tokenFile} is empty`);
    return token;
  }
  const fromEnv = env[TOKEN_ENV]?.trim();
  return fromEnv ? fromEnv : undefined;
}

/**
 * Refuses to serve without a token unless explicitly insecure and bound to loopback only: an
 * agent that starts processes as root must never be open to the network.
 */
export function checkAuthSetup(token: string | undefined, insecureNoAuth: boolean, host: string): void {
  if (token !== undefined) return;
  if (!insecureNoAuth) {
    throw new McpWarmError('AUTH_MISCONFIGURED', `no token: give --token-file or ${TOKEN_ENV}, or --insecure-no-auth on a loopback --host`);
  }
  const hostAsAddress = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  if (!isLoopbackRegistry(hostAsAddress)) {
    throw new McpWarmError('AUTH_MISCONFIGURED', `--insecure-no-auth is allowed only with a loopback --host, not ${host}`);
  }
}

const digestOf = (value: string): Buffer => createHash('sha256').update(value).digest();

/** True when the Authorization header carries the token; constant time whatever the header holds. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const presented = /^Bearer\s+(.+)$/i.exec(header ?? '')?.[1]?.trim() ?? '';
  // Hashing first gives equal lengths, so timingSafeEqual never short-circuits on length.
  return timingSafeEqual(digestOf(presented), digestOf(token)) && presented !== '';
}

/**
 * Allowlist entries: `registry/repository` globs (`*` within a path component, `**` across
 * components: `127.0.0.1:5000/mcp/*`, `docker.io/library/**`), pinned digests (`sha256:<hex>`:
 * any image whose reference pins that digest), and `oci:**` for layout directories. An empty
 * allowlist allows everything.
 */
export class ImageAllowlist {
  private readonly patterns: RegExp[] = [];
  private readonly digests = new Set<string>();

  constructor(readonly entries: readonly string[]) {
    for (const entry of entries) {
      if (/^sha256:[a-f0-9]{64}$/.test(entry)) this.digests.add(entry);
      else this.patterns.push(globToRegExp(entry));
    }
  }

  /** Throws IMAGE_NOT_ALLOWED (or REF_INVALID) for an image the list does not allow. */
  check(image: string): void {
    if (this.entries.length === 0) return;
    const source = parseSourceReference(image);
    const name = source.kind === 'registry' ? `${source.ref.registry}/${source.ref.repository}` : `oci:${source.dir}`;
    const digest = source.kind === 'registry' ? source.ref.digest : undefined;
    if (digest !== undefined && this.digests.has(digest)) return;
    if (this.patterns.some((pattern) => pattern.test(name))) return;
    throw new McpWarmError('IMAGE_NOT_ALLOWED', `image ${image} (${name}) is not on the allowlist`, { details: { image, name } });
  }
}

function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i += 1) {
    const char = glob[i]!;
    if (char === '*' && glob[i + 1] === '*') {
      source += '.*';
      i += 1;
    } else if (char === '*') {
      source += '[^/]*';
    } else {
      source += char.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}

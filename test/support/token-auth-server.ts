/**
 * A Docker token-auth server for tests: the realm a real registry configured with `auth: token`
 * sends clients to. It checks Basic credentials (GET) or refresh tokens (OAuth2 POST form) and
 * issues RS256 JWTs whose `x5c` header carries the self-signed certificate the registry trusts
 * through its rootcertbundle. Authenticated users get every action they ask for; anonymous
 * clients get pull on the public repositories only (and an empty grant elsewhere, as Docker Hub does).
 */
import { randomUUID, sign, X509Certificate } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TokenAuthServerOptions {
  issuer: string;
  service: string;
  privateKeyPem: string;
  certificatePem: string;
  /** username -> password */
  users: Record<string, string>;
  /** identity (refresh) token -> username */
  refreshTokens?: Record<string, string>;
  publicRepositories?: string[];
  tokenLifetimeS?: number;
}

export interface TokenGrant {
  method: string;
  account: string | undefined;
  scopes: string[];
}

export interface TokenAuthServer {
  /** The realm URL for the registry's config. */
  realm: string;
  /** Tokens issued, in order. */
  grants: TokenGrant[];
  stop(): Promise<void>;
}

interface Access {
  type: string;
  name: string;
  actions: string[];
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

function parseScope(scope: string): Access | undefined {
  // repository:<name>:<actions>; the name may itself contain a colon (a registry port).
  const match = /^([a-z]+):(.+):([a-z*,]+)$/.exec(scope);
  return match ? { type: match[1] ?? '', name: match[2] ?? '', actions: (match[3] ?? '').split(',') } : undefined;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startTokenAuthServer(options: TokenAuthServerOptions): Promise<TokenAuthServer> {
  const certificateDer = new X509Certificate(options.certificatePem).raw.toString('base64');
  const lifetime = options.tokenLifetimeS ?? 300;
  const grants: TokenGrant[] = [];

  const issue = (account: string | undefined, scopes: string[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const access = scopes.flatMap((scope) => {
      const wanted = parseScope(scope);
      if (!wanted) return [];
      if (account !== undefined) return [wanted];
      const isPublic = options.publicRepositories?.includes(wanted.name) ?? false;
      return isPublic && wanted.actions.includes('pull') ? [{ ...wanted, actions: ['pull'] }] : [];
    });
    const header = { alg: 'RS256', typ: 'JWT', x5c: [certificateDer] };
    const claims = { iss: options.issuer, sub: account ?? '', aud: options.service, iat: now, nbf: now - 10, exp: now + lifetime, jti: randomUUID(), access };
    const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    return `${input}.${base64url(sign('sha256', Buffer.from(input), options.privateKeyPem))}`;
  };

  const answer = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://token-server');
    if (url.pathname !== '/token') return answer(res, 404, { error: 'not found' });
    if (req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      const account = options.refreshTokens?.[form.get('refresh_token') ?? ''];
      if (form.get('grant_type') !== 'refresh_token' || account === undefined || form.get('service') !== options.service) {
        return answer(res, 401, { error: 'invalid_grant' });
      }
      const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
      grants.push({ method: 'POST', account, scopes });
      return answer(res, 200, { access_token: issue(account, scopes), expires_in: lifetime, scope: scopes.join(' ') });
    }
    if (url.searchParams.get('service') !== options.service) return answer(res, 400, { error: 'unknown service' });
    let account: string | undefined;
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      const decoded = Buffer.from(authorization.replace(/^Basic /, ''), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const [user, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
      if (!authorization.startsWith('Basic ') || colon === -1 || options.users[user] !== password) {
        return answer(res, 401, { details: 'incorrect username or password' });
      }
      account = user;
    }
    const scopes = url.searchParams.getAll('scope');
    grants.push({ method: 'GET', account, scopes });
    answer(res, 200, { token: issue(account, scopes), expires_in: lifetime, issued_at: new Date().toISOString() });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => answer(res, 500, { error: String(error) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    grants,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Registry authentication: `WWW-Authenticate` challenges, credentials from Docker's config.json,
 * and bearer tokens from the challenge's realm (Docker's token protocol and its OAuth2 variant).
 *
 * Credential helpers (`credsStore`, `credHelpers`) are out of scope: they run external programs
 * (docker-credential-*); entries that only exist there are not found, and those keys are ignored.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { McpWarmError } from '../errors.js';
import { plainHttpAllowed, type PlainHttpPolicy } from './insecure-registries.js';
import { DOCKER_HUB_REGISTRY } from './reference.js';

export interface AuthChallenge {
  /** Lowercase scheme: `bearer`, `basic`, ... */
  scheme: string;
  /** Parameter names lowercased; values unquoted. */
  params: Record<string, string>;
}

export interface RegistryCredentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (`identitytoken`), exchanged at the token realm with a POST form. */
  identityToken?: string;
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;
const WHITESPACE = /[ \t]*/y;
const QUOTED = /"((?:[^"\\]|\\.)*)"/y;
const TOKEN68 = /[A-Za-z0-9._~+/-]+=*/y;

function match(pattern: RegExp, input: string, at: number): RegExpExecArray | null {
  pattern.lastIndex = at;
  return pattern.exec(input);
}

function skipWhitespace(input: string, at: number): number {
  return at + (match(WHITESPACE, input, at)?.[0].length ?? 0);
}

/** Reads `name = value` at `at`; null when the text there is not an auth-param (a new challenge follows). */
function readParam(input: string, at: number): { name: string; value: string; end: number } | null {
  const name = match(TOKEN, input, at);
  if (!name) return null;
  let pos = skipWhitespace(input, at + name[0].length);
  if (input[pos] !== '=') return null;
  pos = skipWhitespace(input, pos + 1);
  const quoted = match(QUOTED, input, pos);
  if (quoted) return { name: name[0].toLowerCase(), value: (quoted[1] ?? '').replace(/\\(.)/g, '$1'), end: pos + quoted[0].length };
  const token = match(TOKEN, input, pos);
  return { name: name[0].toLowerCase(), value: token?.[0] ?? '', end: pos + (token?.[0].length ?? 0) };
}

/**
 * Parses a `WWW-Authenticate` value (RFC 7235): one or more challenges separated by commas, each a
 * scheme followed by comma-separated `name=value` parameters whose quoted values may hold commas.
 */
export function parseAuthChallenges(header: string): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  let pos = 0;
  while (pos < header.length) {
    while (pos < header.length && /[\s,]/.test(header[pos] ?? '')) pos += 1;
    const scheme = match(TOKEN, header, pos);
    if (!scheme) break;
    const challenge: AuthChallenge = { scheme: scheme[0].toLowerCase(), params: {} };
    challenges.push(challenge);
    pos = skipWhitespace(header, pos + scheme[0].length);
    const token68 = match(TOKEN68, header, pos);
    if (token68 && /^[ \t]*(?:,|$)/.test(header.slice(pos + token68[0].length))) {
      challenge.params.token68 = token68[0];
      pos += token68[0].length;
      continue;
    }
    const param = readParam(header, pos);
    if (!param) continue;
    challenge.params[param.name] = param.value;
    pos = param.end;
    for (;;) {
      const comma = skipWhitespace(header, pos);
      if (header[comma] !== ',') break;
      const next = readParam(header, skipWhitespace(header, comma + 1));
      if (!next) break;
      challenge.params[next.name] = next.value;
      pos = next.end;
    }
  }
  return challenges;
}

/** `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
}

/** Docker Hub's credentials live under its v1 index URL, for historical reasons. */
const DOCKER_HUB_CONFIG_HOSTS = new Set(['index.docker.io', 'docker.io', 'registry-1.docker.io']);

/** The host part of an `auths` key, which may be a bare host or a URL such as `https://index.docker.io/v1/`. */
function authsKeyHost(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, '').split('/')[0] ?? '';
}

function keyMatches(key: string, registry: string): boolean {
  const host = authsKeyHost(key);
  return registry === DOCKER_HUB_REGISTRY ? DOCKER_HUB_CONFIG_HOSTS.has(host) : host === registry;
}

function configError(path: string, problem: string): McpWarmError {
  return new McpWarmError('REGISTRY_AUTH_FAILED', `Docker config ${path}: ${problem}`, { details: { path } });
}

/** The credentials a parsed config.json holds for `registry` (as written in references), if any. */
export function credentialsFromDockerConfig(config: unknown, registry: string, path = 'config.json'): RegistryCredentials | undefined {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw configError(path, 'not a JSON object');
  const auths = (config as { auths?: unknown }).auths;
  if (auths === undefined) return undefined;
  if (typeof auths !== 'object' || auths === null) throw configError(path, '"auths" is not an object');
  const entries = Object.entries(auths as Record<string, unknown>);
  const entry = (entries.find(([key]) => key === registry) ?? entries.find(([key]) => keyMatches(key, registry)))?.[1];
  if (typeof entry !== 'object' || entry === null) return undefined;
  const { auth, username, password, identitytoken } = entry as Record<string, unknown>;
  const credentials: RegistryCredentials = {};
  if (typeof auth === 'string' && auth !== '') {
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) throw configError(path, `auths entry for ${registry}: "auth" is not base64 of user:password`);
    credentials.username = decoded.slice(0, colon);
    credentials.password = decoded.slice(colon + 1);
  } else if (typeof username === 'string' && username !== '') {
    credentials.username = username;
    credentials.password = typeof password === 'string' ? password : '';
  }
  if (typeof identitytoken === 'string' && identitytoken !== '') credentials.identityToken = identitytoken;
  return Object.keys(credentials).length > 0 ? credentials : undefined;
}

/** Reads config.json (a missing file means no credentials) and picks the entry for `registry`. */
export async function loadDockerCredentials(registry: string, configPath = dockerConfigPath()): Promise<RegistryCredentials | undefined> {
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw configError(configPath, `cannot be read: ${(error as Error).message}`);
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw configError(configPath, `not valid JSON: ${(error as Error).message}`);
  }
  return credentialsFromDockerConfig(config, registry, configPath);
}

export function basicAuthorization(credentials: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${credentials.username ?? ''}:${credentials.password ?? ''}`).toString('base64')}`;
}

/** Bearer tokens by scope, each until shortly before it expires. */
export class TokenCache {
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();

  get(scope: string, now = Date.now()): string | undefined {
    const cached = this.tokens.get(scope);
    if (cached && cached.expiresAt > now) return cached.token;
    this.tokens.delete(scope);
    return undefined;
  }

  set(scope: string, token: string, expiresAt: number): void {
    this.tokens.set(scope, { token, expiresAt });
  }
}

/** Docker's token spec: a token without `expires_in` is valid for 60 seconds, and none for less. */
const MIN_TOKEN_LIFETIME_S = 60;
/** Drop tokens this long before they expire, so none expires between cache lookup and use. */
const EXPIRY_MARGIN_MS = 5_000;

/**
 * The token request for `scope` at the challenge's realm: a POST form with the refresh token when
 * there is an identity token, else a GET with Basic credentials (or none, for anonymous access).
 */
export function tokenRequest(challenge: AuthChallenge, scope: string, credentials: RegistryCredentials | undefined): { url: URL; init: RequestInit } {
  const url = new URL(challenge.params.realm ?? '');
  const service = challenge.params.service;
  if (credentials?.identityToken !== undefined) {
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credentials.identityToken, client_id: 'mcpwarm', scope });
    if (service !== undefined) form.set('service', service);
    return { url, init: { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() } };
  }
  if (service !== undefined) url.searchParams.set('service', service);
  url.searchParams.set('scope', scope);
  if (credentials?.username === undefined) return { url, init: { method: 'GET' } };
  url.searchParams.set('account', credentials.username);
  return { url, init: { method: 'GET', headers: { authorization: basicAuthorization(credentials) } } };
}

/** The token and its expiry time (by the local clock) from a token server's JSON answer. */
export function parseTokenResponse(body: unknown, receivedAt: number): { token: string; expiresAt: number } {
  const { token, access_token: accessToken, expires_in: expiresIn } = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const value = typeof token === 'string' && token !== '' ? token : accessToken;
  if (typeof value !== 'string' || value === '') {
    throw new McpWarmError('REGISTRY_PROTOCOL', 'the token server answered without a "token" or "access_token"');
  }
  const lifetime = typeof expiresIn === 'number' ? Math.max(expiresIn, MIN_TOKEN_LIFETIME_S) : MIN_TOKEN_LIFETIME_S;
  return { token: value, expiresAt: receivedAt + lifetime * 1000 - EXPIRY_MARGIN_MS };
}

export type Send = (url: URL, init: RequestInit) => Promise<Response>;

/**
 * What to send as `Authorization` to one registry: learns the scheme from the first challenge,
 * then offers cached bearer tokens (per scope) or Basic credentials up front.
 */
export class RegistryAuthenticator {
  private challenge: AuthChallenge | undefined;
  private readonly tokens = new TokenCache();
  private credentials: Promise<RegistryCredentials | undefined> | undefined;

  constructor(
    private readonly registry: string,
    private readonly options: { dockerConfigPath?: string; plainHttp?: PlainHttpPolicy; send: Send },
  ) {}

  /** The header for a request needing `scope`, when an earlier challenge said what to send. */
  async authorizationFor(scope: string): Promise<string | undefined> {
    if (this.challenge?.scheme === 'bearer') {
      const token = this.tokens.get(scope);
      return token === undefined ? undefined : `Bearer ${token}`;
    }
    if (this.challenge?.scheme === 'basic') {
      const credentials = await this.loadCredentials();
      return credentials?.username === undefined ? undefined : basicAuthorization(credentials);
    }
    return undefined;
  }

  /**
   * Answers a 401 to a request that sent `rejected` (or nothing): a header worth retrying with, or
   * REGISTRY_AUTH_FAILED when there is nothing new to offer.
   */
  async respondTo(header: string | null, scope: string, rejected: string | undefined): Promise<string> {
    const challenges = parseAuthChallenges(header ?? '');
    const challenge = challenges.find((c) => c.scheme === 'bearer' && c.params.realm) ?? challenges.find((c) => c.scheme === 'basic');
    if (!challenge) {
      throw this.failure(`answered 401 without a usable WWW-Authenticate challenge (${JSON.stringify(header ?? '')})`);
    }
    this.challenge = challenge;
    if (challenge.scheme === 'basic') {
      const offer = await this.authorizationFor(scope);
      if (offer === undefined) throw this.failure(`requires credentials and ${this.configPath()} has none for it`);
      if (offer === rejected) throw this.failure(`rejected the credentials from ${this.configPath()}`);
      return offer;
    }
    const cached = await this.authorizationFor(scope);
    if (cached !== undefined && cached !== rejected) return cached;
    return `Bearer ${await this.fetchToken(challenge, scope)}`;
  }

  /** REGISTRY_AUTH_FAILED for a request that was refused even with the best authorization on offer. */
  refused(url: string, sent: string | undefined): McpWarmError {
    return this.failure(
      `refused ${url} ${sent === undefined ? 'without credentials' : `with ${sent.split(' ')[0]} authorization`}` +
        ' (anonymous access denied, or the account lacks access to this repository)',
    );
  }

  private async fetchToken(challenge: AuthChallenge, scope: string): Promise<string> {
    const credentials = await this.loadCredentials();
    let request: { url: URL; init: RequestInit };
    try {
      request = tokenRequest(challenge, scope, credentials);
    } catch {
      throw this.failure(`named an invalid token realm ${JSON.stringify(challenge.params.realm)}`);
    }
    const { url } = request;
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && plainHttpAllowed(url.host, this.options.plainHttp ?? {}))) {
      throw new McpWarmError('REGISTRY_INSECURE_REFUSED', `token realm ${url.href} of ${this.registry} is not HTTPS; refusing to send credentials there`, {
        details: { realm: url.href },
      });
    }
    const response = await this.options.send(url, request.init);
    const text = await response.text();
    if (response.status === 401 || response.status === 403) {
      throw this.failure(`token server ${url.origin}${url.pathname} refused ${credentials ? `the credentials from ${this.configPath()}` : 'anonymous access'} (HTTP ${response.status})`);
    }
    if (!response.ok) {
      throw new McpWarmError('REGISTRY_PROTOCOL', `token server ${url.origin}${url.pathname} answered HTTP ${response.status}: ${text.slice(0, 200)}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new McpWarmError('REGISTRY_PROTOCOL', `token server ${url.origin}${url.pathname} answered with something that is not JSON`);
    }
    const { token, expiresAt } = parseTokenResponse(body, Date.now());
    this.tokens.set(scope, token, expiresAt);
    return token;
  }

  private loadCredentials(): Promise<RegistryCredentials | undefined> {
    this.credentials ??= loadDockerCredentials(this.registry, this.configPath());
    return this.credentials;
  }

  private configPath(): string {
    return this.options.dockerConfigPath ?? dockerConfigPath();
  }

  private failure(problem: string): McpWarmError {
    return new McpWarmError('REGISTRY_AUTH_FAILED', `registry ${this.registry} ${problem}`, { details: { registry: this.registry } });
  }
}

/**
 * A test double of the Kubernetes API server (node:http, plain HTTP on loopback), with the real
 * semantics of what mcpwarm's kubernetes substrate uses, so that the substrate, its informer and
 * its leader elector are tested with @kubernetes/client-node as their client, as in a cluster:
 *
 * - pods, leases and events in any namespace (/api/v1/..., /apis/coordination.k8s.io/v1/...):
 *   get, list, watch, create (generateName), merge patch, delete; pods/status and pods/binding;
 * - list and watch with label selectors (=, ==, !=, in, notin, exists, !exists); a watch streams
 *   JSON lines from a resourceVersion, with BOOKMARK events when asked, ends after
 *   `timeoutSeconds`, and answers an ERROR event with 410 Expired when the version has left the
 *   retained history; a watch with a selector sees objects leave and enter it as DELETED / ADDED;
 * - Status objects shaped like the real ones (404 NotFound, 409 Conflict and AlreadyExists, 410,
 *   422 Invalid, 401, 403 Forbidden naming user, verb, resource, group and namespace);
 * - optional RBAC: bearer tokens mapped to users with rules (apiGroups, resources, verbs);
 * - hooks for tests: every request logged (user, verb, resource, status), drop all watches,
 *   forget the history (compact), stop answering and resume on the same port.
 *
 * It is a test double, not a product: no persistence, no admission, no other resources.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { parseLabelSelector, SelectorError, type LabelSelector } from './kube-label-selector.js';
import { KubeStatusError, KubeStore, resourceType, type KubeObject, type ResourceType, type StoreEvent } from './kube-store.js';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

export interface ApiUser {
  name: string;
  /** What the user may do; all of it when absent. */
  rules?: PolicyRule[];
}

export interface KubeApiServerOptions {
  /** Bearer token -> user. Without it every request is allowed, as user "admin". */
  users?: Record<string, ApiUser>;
  /** Changes kept for watches to resume from (older versions get 410). */
  historyLimit?: number;
  /** How often a watch that asked for bookmarks gets one (a real server: about a minute). */
  bookmarkIntervalMs?: number;
}

export interface ApiRequest {
  user: string;
  verb: string;
  group: string;
  /** The resource, with its subresource: `pods`, `pods/status`. */
  resource: string;
  namespace?: string;
  name?: string;
  status: number;
  /** The body of a create or patch, as sent. */
  body?: unknown;
}

interface Route {
  type: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

export function isWrite(request: ApiRequest): boolean {
  return WRITE_VERBS.has(request.verb);
}

function parseRoute(pathname: string): Route | undefined {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let group = '';
  let version: string | undefined;
  let rest: string[];
  if (parts[0] === 'api') {
    version = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === 'apis') {
    group = parts[1] ?? '';
    version = parts[2];
    rest = parts.slice(3);
  } else return undefined;
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const type = resourceType(rest[0] ?? '');
  if (!type || type.group !== group || type.version !== version || rest.length > 3) return undefined;
  return { type, ...(namespace !== undefined ? { namespace } : {}), ...(rest[1] !== undefined ? { name: rest[1] } : {}), ...(rest[2] !== undefined ? { subresource: rest[2] } : {}) };
}

function verbOf(method: string, route: Route, watch: boolean): string {
  if (method === 'GET') return route.name !== undefined ? 'get' : watch ? 'watch' : 'list';
  if (method === 'POST') return 'create';
  if (method === 'PATCH') return 'patch';
  if (method === 'PUT') return 'update';
  if (method === 'DELETE') return route.name !== undefined ? 'delete' : 'deletecollection';
  return method.toLowerCase();
}

function allows(rules: PolicyRule[] | undefined, group: string, resource: string, verb: string): boolean {
  if (rules === undefined) return true;
  const has = (list: string[], value: string) => list.includes('*') || list.includes(value);
  return rules.some((rule) => has(rule.apiGroups, group) && has(rule.resources, resource) && has(rule.verbs, verb));
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new KubeStatusError(400, 'BadRequest', `the body of the request could not be decoded as JSON`);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Field selectors on the two fields every resource supports. */
function parseFieldSelector(text: string | null): (object: KubeObject) => boolean {
  if (text === null || text === '') return () => true;
  const terms = text.split(',').map((term) => {
    const match = /^(metadata\.name|metadata\.namespace)(==|=|!=)(.*)$/.exec(term.trim());
    if (!match) throw new KubeStatusError(400, 'BadRequest', `"${term}" is not a known field selector: only "metadata.name", "metadata.namespace"`);
    return { field: match[1] === 'metadata.name' ? 'name' : 'namespace', equal: match[2] !== '!=', value: match[3] };
  });
  return (object) => terms.every((term) => (object.metadata[term.field] === term.value) === term.equal);
}

export class KubeApiServer {
  readonly store: KubeStore;
  /** Every request answered, in order. */
  readonly requests: ApiRequest[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly watches = new Set<ServerResponse>();
  private port = 0;

  constructor(private readonly options: KubeApiServerOptions = {}) {
    this.store = new KubeStore(options.historyLimit);
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Open watch streams. */
  get watchCount(): number {
    return this.watches.size;
  }

  async listen(port = this.port): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address();
    if (address !== null && typeof address === 'object') this.port = address.port;
  }

  /** Cuts every open watch (as a restarting API server or a network blip does). */
  dropWatches(): void {
    for (const res of this.watches) res.destroy();
    this.watches.clear();
  }

  /** Stops answering: closes the port and every connection. The objects stay; `listen()` resumes on the same port. */
  async pause(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.dropWatches();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  async close(): Promise<void> {
    if (this.server.listening) await this.pause();
  }

  /** Writes a kubeconfig that reaches this server with `token`, in `namespace`; returns its path. */
  async writeKubeconfig(path: string, options: { token?: string; namespace?: string } = {}): Promise<string> {
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'test', user: options.token !== undefined ? { token: options.token } : {} }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'test', ...(options.namespace ? { namespace: options.namespace } : {}) } }],
      'current-context': 'test',
    };
    await writeFile(path, stringify(config), { mode: 0o600 });
    return path;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://api');
    const entry: ApiRequest = { user: '', verb: req.method?.toLowerCase() ?? '', group: '', resource: url.pathname, status: 0 };
    res.on('close', () => {
      entry.status = res.statusCode;
      this.requests.push(entry);
    });
    try {
      const user = this.authenticate(req);
      entry.user = user.name;
      const route = parseRoute(url.pathname);
      if (!route) throw new KubeStatusError(404, 'NotFound', 'the server could not find the requested resource');
      const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
      const verb = verbOf(req.method ?? 'GET', route, watch);
      const resource = route.subresource ? `${route.type.resource}/${route.subresource}` : route.type.resource;
      Object.assign(entry, { verb, group: route.type.group, resource, ...(route.namespace ? { namespace: route.namespace } : {}), ...(route.name ? { name: route.name } : {}) });
      if (!allows(user.rules, route.type.group, resource, verb)) {
        const subject = route.name !== undefined ? `${route.type.resource} "${route.name}"` : resource;
        throw new KubeStatusError(
          403,
          'Forbidden',
          `${subject} is forbidden: User "${user.name}" cannot ${verb} resource "${resource}" in API group "${route.type.group}"${route.namespace ? ` in the namespace "${route.namespace}"` : ' at the cluster scope'}`,
          { ...(route.name ? { name: route.name } : {}), ...(route.type.group ? { group: route.type.group } : {}), kind: route.type.resource },
        );
      }
      await this.dispatch(req, res, route, verb, url, entry);
    } catch (error) {
      if (error instanceof KubeStatusError) send(res, error.status.code, error.status);
      else send(res, 500, new KubeStatusError(500, 'InternalError', `Internal error occurred: ${(error as Error).message}`).status);
    }
  }

  private authenticate(req: IncomingMessage): ApiUser {
    if (this.options.users === undefined) return { name: 'admin' };
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const user = token === undefined ? undefined : this.options.users[token];
    if (!user) throw new KubeStatusError(401, 'Unauthorized', 'Unauthorized');
    return user;
  }

  private selector(url: URL): LabelSelector {
    try {
      return parseLabelSelector(url.searchParams.get('labelSelector') ?? undefined);
    } catch (error) {
      if (error instanceof SelectorError) throw new KubeStatusError(400, 'BadRequest', error.message);
      throw error;
    }
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, route: Route, verb: string, url: URL, entry: ApiRequest): Promise<void> {
    const { type, name, subresource } = route;
    const namespace = route.namespace ?? '';
    const needsNamespace = verb !== 'list' && verb !== 'watch';
    if (needsNamespace && route.namespace === undefined) throw new KubeStatusError(404, 'NotFound', 'the server could not find the requested resource');
    const allowedSubresource = type.resource === 'pods' && (subresource === 'status' || (subresource === 'binding' && verb === 'create'));
    if (subresource !== undefined && !allowedSubresource) throw new KubeStatusError(404, 'NotFound', `the server could not find the requested resource (${type.resource}/${subresource})`);
    const labels = this.selector(url);
    const fields = parseFieldSelector(url.searchParams.get('fieldSelector'));
    const matches = (object: KubeObject) => labels(object.metadata.labels) && fields(object);
    switch (verb) {
      case 'get':
        return send(res, 200, this.store.get(type.resource, namespace, name!));
      case 'list': {
        const listed = this.store.list(type.resource, route.namespace, matches);
        const items = listed.items.map(({ apiVersion: _apiVersion, kind: _kind, ...item }) => item);
        const apiVersion = type.group === '' ? type.version : `${type.group}/${type.version}`;
        return send(res, 200, { kind: `${type.kind}List`, apiVersion, metadata: { resourceVersion: listed.resourceVersion }, items });
      }
      case 'watch':
        return this.watch(req, res, route, matches, url);
      case 'create': {
        const body = (await readBody(req)) as KubeObject | undefined;
        entry.body = body;
        if (subresource === 'binding') {
          this.store.bind(namespace, name!, String((body as { target?: { name?: unknown } } | undefined)?.target?.name ?? ''));
          return send(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
        }
        if (body === undefined || typeof body !== 'object') throw new KubeStatusError(400, 'BadRequest', 'the body of the request is not an object');
        return send(res, 201, this.store.create(type.resource, namespace, body));
      }
      case 'patch': {
        const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
        if (contentType !== 'application/merge-patch+json') {
          throw new KubeStatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json (this test server), got ${contentType}`);
        }
        entry.body = await readBody(req);
        return send(res, 200, this.store.patch(type.resource, namespace, name!, entry.body, subresource === 'status' ? 'status' : undefined));
      }
      case 'delete': {
        const body = ((await readBody(req)) ?? {}) as { gracePeriodSeconds?: number; preconditions?: { uid?: string; resourceVersion?: string } };
        const grace = url.searchParams.get('gracePeriodSeconds');
        return send(res, 200, this.store.delete(type.resource, namespace, name!, { ...body, ...(grace !== null ? { gracePeriodSeconds: Number(grace) } : {}) }));
      }
      default:
        throw new KubeStatusError(405, 'MethodNotAllowed', `${verb} is not supported on ${type.resource} by this test server`);
    }
  }

  private watch(req: IncomingMessage, res: ServerResponse, route: Route, matches: (object: KubeObject) => boolean, url: URL): void {
    const { type } = route;
    const from = url.searchParams.get('resourceVersion') ?? '';
    const bookmarks = url.searchParams.get('allowWatchBookmarks') === 'true';
    const timeoutSeconds = Number(url.searchParams.get('timeoutSeconds') ?? 1800);
    const apiVersion = type.group === '' ? type.version : `${type.group}/${type.version}`;
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // Headers go out at once, as the real server sends them: clients wait for them before reading events.
    res.flushHeaders();
    const write = (type: string, object: unknown) => res.write(`${JSON.stringify({ type, object })}\n`);

    const relevant = (event: StoreEvent) => event.resource === type.resource && (route.namespace === undefined || event.namespace === route.namespace);
    /** The event as this watch sees it: objects leaving the selector are DELETED, entering it ADDED. */
    const forward = (event: StoreEvent) => {
      if (!relevant(event)) return;
      const now = matches(event.object);
      const before = event.type === 'MODIFIED' && event.previous !== undefined ? matches(event.previous) : now;
      if (now && before) write(event.type, event.object);
      else if (now) write('ADDED', event.object);
      else if (before) write('DELETED', event.object);
    };

    let backlog: StoreEvent[];
    try {
      backlog = from === '' || from === '0' ? [] : this.store.eventsSince(from);
    } catch (error) {
      if (!(error instanceof KubeStatusError)) throw error;
      // As the real server does: the watch is accepted, then ends with one ERROR event.
      write('ERROR', error.status);
      res.end();
      return;
    }
    // Store changes are synchronous, so nothing happens between reading the backlog and subscribing.
    if (from === '' || from === '0') for (const object of this.store.list(type.resource, route.namespace, matches).items) write('ADDED', object);
    for (const event of backlog) forward(event);
    const unsubscribe = this.store.subscribe(forward);
    this.watches.add(res);
    const ticker = bookmarks
      ? setInterval(() => write('BOOKMARK', { kind: type.kind, apiVersion, metadata: { resourceVersion: this.store.resourceVersion } }), this.options.bookmarkIntervalMs ?? 1000)
      : undefined;
    const timeout = setTimeout(() => res.end(), timeoutSeconds * 1000);
    const cleanup = () => {
      unsubscribe();
      clearInterval(ticker);
      clearTimeout(timeout);
      this.watches.delete(res);
    };
    res.on('close', cleanup);
    req.on('close', cleanup);
  }
}

/** Starts a test API server on a free loopback port. */
export async function startKubeApiServer(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const server = new KubeApiServer(options);
  await server.listen(0);
  return server;
}

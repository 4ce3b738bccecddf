/**
 * An HTTP proxy for tests that forwards to a real registry and injects faults chosen by rules:
 * canned answers (503, 429, a schema 1 manifest), bodies cut off mid-transfer, reset connections.
 * The client's Host header is forwarded unchanged, so the registry's Location headers point back
 * at the proxy.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Fault =
  /** Answer without asking the registry. */
  | { kind: 'respond'; status: number; headers?: Record<string, string>; body?: string | Buffer }
  /** Forward, but close the connection after `afterBytes` of the body (headers already promised more). */
  | { kind: 'cut-body'; afterBytes: number; stripAcceptRanges?: boolean }
  /** Close the connection without answering. */
  | { kind: 'reset' };

export interface FaultRule {
  method?: string;
  path?: RegExp;
  fault: Fault;
  /** How many matching requests get the fault; default every one. */
  times?: number;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  range?: string;
  /** The fault injected, if any. */
  fault?: Fault['kind'];
}

export interface FaultInjectingProxy {
  /** host:port, for image references. */
  address: string;
  /** Every request received, in order. */
  requests: ProxiedRequest[];
  addRule(rule: FaultRule): void;
  /** Forget rules and the request log. */
  reset(): void;
  stop(): Promise<void>;
}

function forward(target: URL, req: IncomingMessage, res: ServerResponse, fault?: Extract<Fault, { kind: 'cut-body' }>): void {
  const upstream = request(
    { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
    (answer) => {
      const headers = { ...answer.headers };
      if (fault?.stripAcceptRanges) delete headers['accept-ranges'];
      res.writeHead(answer.statusCode ?? 502, headers);
      if (!fault) {
        answer.pipe(res);
        return;
      }
      let sent = 0;
      answer.on('data', (chunk: Buffer) => {
        if (sent >= fault.afterBytes) return;
        const part = chunk.subarray(0, fault.afterBytes - sent);
        sent += part.length;
        res.write(part);
        if (sent >= fault.afterBytes) {
          answer.destroy();
          res.socket?.end(() => res.socket?.destroy());
        }
      });
      answer.on('end', () => res.end());
    },
  );
  upstream.on('error', () => res.socket?.destroy());
  req.pipe(upstream);
}

export async function startFaultInjectingProxy(targetUrl: string): Promise<FaultInjectingProxy> {
  const target = new URL(targetUrl);
  let rules: Array<FaultRule & { used: number }> = [];
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();

  const takeFault = (req: IncomingMessage): Fault | undefined => {
    const rule = rules.find(
      (candidate) =>
        (candidate.method === undefined || candidate.method === req.method) &&
        (candidate.path === undefined || candidate.path.test(req.url ?? '')) &&
        candidate.used < (candidate.times ?? Infinity),
    );
    if (!rule) return undefined;
    rule.used += 1;
    return rule.fault;
  };

  const server: Server = createServer((req, res) => {
    const fault = takeFault(req);
    const entry: ProxiedRequest = { method: req.method ?? '', path: req.url ?? '' };
    if (req.headers.range !== undefined) entry.range = req.headers.range;
    if (fault) entry.fault = fault.kind;
    requests.push(entry);
    if (fault?.kind === 'reset') {
      req.socket.destroy();
    } else if (fault?.kind === 'respond') {
      req.resume();
      res.writeHead(fault.status, fault.headers ?? {});
      res.end(fault.body ?? '');
    } else {
      forward(target, req, res, fault);
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    address: `127.0.0.1:${port}`,
    requests,
    addRule: (rule) => {
      rules.push({ ...rule, used: 0 });
    },
    reset: () => {
      rules = [];
      requests.length = 0;
    },
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

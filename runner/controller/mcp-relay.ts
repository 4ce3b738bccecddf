/**
 * Relays an activation's MCP traffic from the controller to its runner, so clients need only the
 * controller's address and token (runners stay private, and their token never leaves the
 * controller). Bodies and SSE streams are piped both ways without buffering.
 */
import { request, type IncomingMessage, type ServerResponse } from 'node:http';

// Hop-by-hop headers (RFC 9110) and the client's own credentials are not forwarded.
const DROPPED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host', 'authorization', 'proxy-authorization', 'te', 'trailer']);

/**
 * - `relayed`: the runner's answer was passed on whole (`not-found`: and it was a 404, which may
 *   mean the instance is gone);
 * - `unreachable`: the runner could not be reached; nothing was sent, the caller answers;
 * - `cut`: the runner's answer broke off midway; the client's connection was ended;
 * - `client-gone`: the client went away first (the runner then cancels the request upstream).
 */
export type RelayOutcome = 'relayed' | 'not-found' | 'unreachable' | 'cut' | 'client-gone';

export function relayMcp(req: IncomingMessage, res: ServerResponse, target: URL, runnerToken: string): Promise<RelayOutcome> {
  return new Promise((resolve) => {
    let clientGone = false;
    const headers: Record<string, string | string[]> = { authorization: `Bearer ${runnerToken}` };
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !DROPPED.has(name)) headers[name] = value;
    const upstream = request(target, { method: req.method, headers }, (answer) => {
      const forwarded: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !DROPPED.has(name)) forwarded[name] = value;
      res.writeHead(answer.statusCode ?? 502, forwarded);
      answer.pipe(res);
      answer.on('error', () => undefined);
      answer.on('close', () => {
        if (answer.complete) return resolve(answer.statusCode === 404 ? 'not-found' : 'relayed');
        if (clientGone) return resolve('client-gone');
        res.destroy();
        resolve('cut');
      });
    });
    upstream.on('error', () => {
      if (clientGone) return resolve('client-gone');
      if (res.headersSent) {
        res.destroy();
        return resolve('cut');
      }
      resolve('unreachable');
    });
    res.on('close', () => {
      if (res.writableFinished) return;
      clientGone = true;
      upstream.destroy();
    });
    req.pipe(upstream);
  });
}

/**
 * Relays an activation's MCP traffic from the controller to its runner, so clients need only the
 * controller's address and token (runners stay private, and their token never leaves the
 * controller). Bodies and SSE streams are piped both ways without buffering.
 */
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { McpWarmError } from '../errors.js';
import { sendError } from '../http-json.js';

// Hop-by-hop headers (RFC 9110) and the client's own credentials are not forwarded.
const DROPPED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host', 'authorization', 'proxy-authorization', 'te', 'trailer']);

export function relayMcp(req: IncomingMessage, res: ServerResponse, target: URL, runnerToken: string): Promise<void> {
  return new Promise((resolve) => {
    const headers: Record<string, string | string[]> = { authorization: `Bearer ${runnerToken}` };
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !DROPPED.has(name)) headers[name] = value;
    const upstream = request(target, { method: req.method, headers }, (answer) => {
      const forwarded: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !DROPPED.has(name)) forwarded[name] = value;
      res.writeHead(answer.statusCode ?? 502, forwarded);
      answer.pipe(res);
      answer.on('end', resolve);
      answer.on('error', () => resolve());
    });
    upstream.on('error', (error) => {
      sendError(res, new McpWarmError('SUBSTRATE_FAILED', `the runner for this activation is unreachable: ${error.message}`));
      resolve();
    });
    // A client that goes away ends the relayed request too (the runner then cancels it upstream).
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
}

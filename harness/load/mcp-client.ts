/** The MCP SDK's client over Streamable HTTP, as load drivers use it: one session per client. */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { BENCH_CLIENT_INFO } from './mcp-http-load.js';

export interface McpSessionClient {
  client: Client;
  /** The session the server gave (Mcp-Session-Id), and the revision agreed at initialize: what a raw HTTP client sends on it. */
  sessionId: string | undefined;
  protocolVersion: string | undefined;
  /** Ends the session (DELETE) and closes the client. */
  close(): Promise<void>;
}

export async function connectMcp(endpoint: string, token?: string): Promise<McpSessionClient> {
  const transport = new StreamableHTTPClientTransport(new URL(endpoint), {
    ...(token !== undefined ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : {}),
  });
  const client = new Client(BENCH_CLIENT_INFO);
  await client.connect(transport);
  return {
    client,
    sessionId: transport.sessionId,
    protocolVersion: transport.protocolVersion,
    close: async () => {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}

/**
 * Raw MCP Streamable HTTP from the client side, for what the SDK client hides: hand-made POSTs,
 * sessions opened by hand, and the JSON-RPC messages of a JSON or SSE answer.
 */
export const ACCEPT_BOTH = 'application/json, text/event-stream';

export type Message = Record<string, any>;

export function post(url: URL, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: ACCEPT_BOTH, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

/** Opens a 2025-11-25 session by hand; resolves with its Mcp-Session-Id. */
export async function rawSession(url: URL, clientName = 'raw'): Promise<string> {
  const response = await post(url, {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: clientName, version: '1' } },
  });
  if (response.status !== 200) throw new Error(`initialize answered ${response.status}: ${await response.text()}`);
  await response.json();
  const id = response.headers.get('mcp-session-id');
  if (id === null) throw new Error('initialize answered without an Mcp-Session-Id');
  return id;
}

/** The JSON-RPC messages of an SSE response, as they arrive. */
export async function* sseMessages(response: Response): AsyncGenerator<Message> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += value;
    for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n')) {
      const data = buffered
        .slice(0, end)
        .split('\n')
        .find((line) => line.startsWith('data: '));
      buffered = buffered.slice(end + 2);
      if (data) yield JSON.parse(data.slice('data: '.length)) as Message;
    }
  }
}

/** The JSON-RPC messages of a response: one JSON body, or every message of an SSE stream until it ends. */
export async function messagesOf(response: Response): Promise<Message[]> {
  if (!response.headers.get('content-type')?.startsWith('text/event-stream')) return [(await response.json()) as Message];
  const messages: Message[] = [];
  for await (const message of sseMessages(response)) messages.push(message);
  return messages;
}

/** The text of a tools/call result. */
export function textOf(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content.map((part) => part.text).join('');
}

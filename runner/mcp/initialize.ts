/**
 * The readiness probe: a server is ready once it has answered `initialize` (and, when asked,
 * listed its tools). It is the only `initialize` the server ever gets; HTTP clients are answered
 * from its result.
 */
import { performance } from 'node:perf_hooks';
import { McpWarmError, type ErrorCode } from '../errors.js';
import type { ExitStatus } from '../sandbox/types.js';
import { isJsonObject, JsonRpcResponseError, type JsonObject } from './jsonrpc.js';
import { ConnectionClosedError, describeExit, type GarbageLine, type StdioMcpConnection } from './stdio-connection.js';

export const LATEST_PROTOCOL_VERSION = '2025-11-25';
/** Revisions that use `initialize` and sessions; a client may name any of them in MCP-Protocol-Version. */
export const KNOWN_PROTOCOL_VERSIONS: readonly string[] = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'];

const DEFAULT_CLIENT_INFO = { name: 'mcpwarm', version: '0.1.0' };
/** A server that keeps answering with a nextCursor is broken, not long. */
const MAX_TOOL_PAGES = 1000;

export interface ReadinessOptions {
  /** For the whole probe: initialize, and tools/list when asked. */
  timeoutMs: number;
  /** Also list the tools (every page). */
  toolsList?: boolean;
  clientInfo?: { name: string; version: string };
  /** The client capabilities declared to the server; HTTP clients answered from the cache share them. */
  capabilities?: JsonObject;
  /** The server's recent stderr, quoted at the end of every failure message. */
  stderrTail: () => string;
  /**
   * Settles when the process has exited. The stderr tail is read at that moment: settle it after
   * stderr has ended (a child process's 'close' event) for a complete tail.
   */
  exited: Promise<ExitStatus>;
}

export interface ServerInfo extends JsonObject {
  name: string;
  version: string;
}

export interface Readiness {
  /** The revision the server answered; it may differ from the one offered. */
  protocolVersion: string;
  serverInfo: ServerInfo;
  capabilities: JsonObject;
  instructions?: string;
  tools?: JsonObject[];
  /** The initialize result exactly as the server sent it. */
  initializeResult: JsonObject;
  /** From sending initialize to its answer. */
  initializeMs: number;
}

function withStderr(message: string, stderrTail: string): string {
  const tail = stderrTail.trimEnd();
  return tail === '' ? `${message}\n(nothing on stderr)` : `${message}\nlast lines of stderr:\n${tail}`;
}

/** A result of the wrong shape; the probe turns it into SERVER_PROTOCOL with the stderr tail. */
class MalformedResult extends Error {}

function readInitializeResult(result: unknown): Omit<Readiness, 'initializeMs' | 'tools'> {
  if (!isJsonObject(result)) throw new MalformedResult('the initialize result is not an object');
  const { protocolVersion, capabilities, serverInfo, instructions } = result;
  if (typeof protocolVersion !== 'string') throw new MalformedResult('the initialize result has no protocolVersion string');
  if (!isJsonObject(capabilities)) throw new MalformedResult('the initialize result has no capabilities object');
  if (!isJsonObject(serverInfo) || typeof serverInfo.name !== 'string') {
    throw new MalformedResult('the initialize result has no serverInfo with a name');
  }
  if (instructions !== undefined && typeof instructions !== 'string') throw new MalformedResult('the initialize result has non-string instructions');
  return {
    protocolVersion,
    capabilities,
    serverInfo: { ...serverInfo, name: serverInfo.name, version: typeof serverInfo.version === 'string' ? serverInfo.version : '' },
    ...(instructions === undefined ? {} : { instructions }),
    initializeResult: result,
  };
}

async function listAllTools(call: (params: JsonObject | undefined) => Promise<unknown>): Promise<JsonObject[]> {
  const tools: JsonObject[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_TOOL_PAGES; page += 1) {
    const result = await call(cursor === undefined ? undefined : { cursor });
    if (!isJsonObject(result) || !Array.isArray(result.tools) || !result.tools.every(isJsonObject)) {
      throw new MalformedResult('the tools/list result has no tools array of objects');
    }
    tools.push(...result.tools);
    if (result.nextCursor === undefined) return tools;
    if (typeof result.nextCursor !== 'string') throw new MalformedResult('the tools/list result has a non-string nextCursor');
    cursor = result.nextCursor;
  }
  throw new MalformedResult(`tools/list returned more than ${MAX_TOOL_PAGES} pages`);
}

/** Initializes the server and resolves once it is ready; each failure is a coded error ending with the stderr tail. */
export async function probeReadiness(connection: StdioMcpConnection, options: ReadinessOptions): Promise<Readiness> {
  const abandon = new AbortController();
  let step = 'initialize';
  let timer: NodeJS.Timeout | undefined;
  let onGarbage: ((line: GarbageLine) => void) | undefined;
  const fail = (code: ErrorCode, message: string, details?: Record<string, unknown>) =>
    new McpWarmError(code, withStderr(message, options.stderrTail()), details === undefined ? {} : { details });

  // Whatever ends the probe first: the deadline, the exit, or a line that is not JSON-RPC.
  const failure = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(fail('SERVER_INIT_TIMEOUT', `the MCP server did not answer ${step} within ${options.timeoutMs} ms`)), options.timeoutMs);
    void options.exited.then((status) =>
      reject(fail('SERVER_EXITED', `the MCP server exited (${describeExit(status)}) before it was ready`, { exitCode: status.code, signal: status.signal })),
    );
    onGarbage = (line) => reject(fail('SERVER_PROTOCOL', `the MCP server wrote a line on stdout that is ${line.reason}: ${JSON.stringify(line.lineStart)}`));
    connection.on('protocolError', onGarbage);
  });
  failure.catch(() => {});

  const call = (method: string, params: JsonObject | undefined) =>
    Promise.race([
      connection.request(method, params, { signal: abandon.signal }).catch((error: unknown) => {
        if (error instanceof JsonRpcResponseError) {
          throw fail('SERVER_PROTOCOL', `the MCP server answered ${method} with error ${error.code}: ${error.message}`, { rpcCode: error.code });
        }
        throw error;
      }),
      failure,
    ]);

  try {
    const started = performance.now();
    const result = await call('initialize', {
      protocolVersion: LATEST_PROTOCOL_VERSION,
      capabilities: options.capabilities ?? {},
      clientInfo: options.clientInfo ?? DEFAULT_CLIENT_INFO,
    });
    const initializeMs = performance.now() - started;
    const initialized = readInitializeResult(result);
    connection.notify('notifications/initialized');
    if (!options.toolsList) return { ...initialized, initializeMs };
    step = 'tools/list';
    const tools = await listAllTools((params) => call('tools/list', params));
    return { ...initialized, tools, initializeMs };
  } catch (error) {
    // A closed stdout means the process is going: the exit (or the deadline) says how.
    if (error instanceof ConnectionClosedError) return await failure;
    throw error instanceof MalformedResult ? fail('SERVER_PROTOCOL', error.message) : error;
  } finally {
    clearTimeout(timer);
    connection.off('protocolError', onGarbage!);
    abandon.abort(new Error('readiness probe ended'));
  }
}

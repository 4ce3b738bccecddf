/**
 * Raw HTTP throughput of an MCP endpoint with autocannon, closed loop: `connections` kept-alive
 * connections, each sending its next POST as soon as its previous answer arrived (`pipelining`
 * outstanding per connection), for a duration. Every request carries an id of its own, and every
 * answer is checked to be the JSON-RPC result of a request sent (mcp-http-load.ts): a non-2xx
 * status, an error answer (also with a 200), or anything else is an error.
 *
 * The figures are autocannon's: requests answered per second, sampled every second (mean and
 * median of the samples), and its latency percentiles of every answer, which it records in whole
 * milliseconds. Each answer's own time (from its write to its last byte, in fractional ms) comes
 * with its verdict.
 */
import autocannon from 'autocannon';
import { McpWarmError } from '../../runner/errors.js';
import { answerProblem, callBodies, callHeaders, type McpCall, type McpHttpAddressing } from './mcp-http-load.js';

export interface AutocannonLoadOptions {
  /** The MCP endpoint. */
  url: string;
  call: McpCall;
  addressing: McpHttpAddressing;
  /** A bearer token for the gateway. */
  token?: string;
  connections: number;
  durationMs: number;
  pipelining: number;
  /** Run this long first, not measured (default 0). */
  warmupMs?: number;
  /** An answer not in within this long is a timeout (the connection is reopened); default 10 s. */
  timeoutMs?: number;
}

export interface AutocannonOutcome {
  connections: number;
  pipelining: number;
  /** One entry per answer, in arrival order: its time in ms, and what was wrong with it (null: a result). */
  answers: { latencyMs: number[]; problems: Array<string | null> };
  /** Requests that got no answer: connection errors by code, and TIMEOUT. */
  unanswered: Record<string, number>;
  /** Answers per second (of any kind), sampled every second. */
  requestsPerSecond: { mean: number; p50: number };
  /** autocannon's percentiles of every answer, in whole ms. */
  latencyMs: { p50: number; p99: number };
  /** Answers that were not a result, and requests without an answer. */
  errors: number;
  timeouts: number;
  non2xx: number;
  durationS: number;
}

/** Connection errors and timeouts after which the run gives up (an endpoint that refuses every connection would otherwise be hammered for the whole duration). */
const GIVE_UP_AFTER_UNANSWERED = 1000;

function invalid(message: string): never {
  throw new McpWarmError('USAGE_INVALID', `autocannon load: ${message}`);
}

function count(into: Record<string, number>, key: string): void {
  into[key] = (into[key] ?? 0) + 1;
}

/** Runs the load for its duration (or until `signal` aborts it) and resolves with what was answered. */
export async function runAutocannon(options: AutocannonLoadOptions, signal?: AbortSignal): Promise<AutocannonOutcome> {
  const { connections, pipelining, durationMs } = options;
  const warmupMs = options.warmupMs ?? 0;
  if (!Number.isInteger(connections) || connections < 1) invalid(`connections must be a positive integer (got ${connections})`);
  if (!Number.isInteger(pipelining) || pipelining < 1) invalid(`pipelining must be a positive integer (got ${pipelining})`);
  if (!(durationMs >= 1000) || !Number.isFinite(durationMs)) invalid(`the duration must be at least 1 s, as requests per second are sampled each second (got ${durationMs} ms)`);
  if (!(warmupMs >= 0) || !Number.isFinite(warmupMs)) invalid(`the warm-up must be a duration (got ${warmupMs} ms)`);

  const body = callBodies(options.call, options.addressing);
  const waiting = new Set<number>();
  let nextId = 1;
  const answers: AutocannonOutcome['answers'] = { latencyMs: [], problems: [] };
  const unanswered: Record<string, number> = {};
  // autocannon hands the body to onResponse, then reports the answer's time: the verdict waits here in between.
  let verdict: string | null | undefined;

  const running = autocannon({
    url: options.url,
    method: 'POST',
    headers: callHeaders(options.call, options.addressing, options.token),
    connections,
    pipelining,
    duration: durationMs / 1000,
    timeout: (options.timeoutMs ?? 10_000) / 1000,
    bailout: GIVE_UP_AFTER_UNANSWERED,
    // Run first with the same connections, its answers checked but not recorded (autocannon's own warm-up).
    ...(warmupMs > 0 ? { warmup: { duration: warmupMs / 1000 } } : {}),
    requests: [
      {
        setupRequest: (request) => {
          const id = nextId++;
          waiting.add(id);
          return { ...request, body: body(id) };
        },
        onResponse: (status, text) => {
          verdict = answerProblem(status, text, (id) => typeof id === 'number' && waiting.delete(id)) ?? null;
        },
      },
    ],
  } as autocannon.Options) as unknown as autocannon.Instance & Promise<autocannon.Result>;
  // The measured run's events only: autocannon reports its warm-up on a tracker of its own, and
  // can be stopped only once the measured run started (an abort during the warm-up stops it then).
  const stop = (): void => (running as Partial<autocannon.Instance>).stop?.();
  signal?.addEventListener('abort', stop, { once: true });
  running.on('start', () => {
    if (signal?.aborted) stop();
  });
  running.on('response', (_client, _status, _bytes, responseTime) => {
    answers.latencyMs.push(responseTime);
    answers.problems.push(verdict === undefined ? 'BAD_ANSWER' : verdict);
    verdict = undefined;
  });
  running.on('reqError', (error: { code?: unknown; message?: unknown }) => {
    count(unanswered, error.message === 'request timed out' ? 'TIMEOUT' : typeof error.code === 'string' ? error.code : 'CONNECTION_ERROR');
  });
  let result: autocannon.Result;
  try {
    result = await running;
  } catch (error) {
    throw new McpWarmError('INTERNAL', `autocannon against ${options.url} failed: ${(error as Error).message}`, { cause: error });
  } finally {
    signal?.removeEventListener('abort', stop);
  }
  const rejected = answers.problems.filter((p) => p !== null).length;
  const lost = Object.values(unanswered).reduce((sum, n) => sum + n, 0);
  return {
    connections,
    pipelining,
    answers,
    unanswered,
    requestsPerSecond: { mean: result.requests.average, p50: result.requests.p50 },
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99 },
    errors: rejected + lost,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    durationS: result.duration,
  };
}

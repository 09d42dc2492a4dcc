/**
 * HTTP load through autocannon, for the HTTP benchmark and the fault scenarios: `connections`
 * keep-alive connections, one request in flight on each, every answer and error counted.
 *
 * Two ways to end a run: after a fixed time (`loadFor`, the benchmark; requests in flight at the
 * end are cut off and reported as unanswered) or when some work is done (`loadWhile`, the fault
 * scenarios; the connections are drained: each stops after its request in flight is answered, so
 * a request that got no answer was lost, never cut off by the end of the run).
 */
import autocannon, { type AutocannonRequest, type AutocannonResult, type Client } from 'autocannon';

export interface LoadRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export interface LoadOptions {
  url: string;
  connections: number;
  /**
   * Cycled in order on every connection (built once: nothing is added to the client's cost per
   * request), or a function that makes each request as it is sent (a new identity, a new image).
   */
  requests: readonly LoadRequest[] | (() => LoadRequest);
  /** Called with every answer and the request it answers. */
  onResponse?: (status: number, body: string, request: LoadRequest) => void;
  /** Seconds without an answer before a request counts as an error (`timeout`). Default 30. */
  timeoutSeconds?: number;
  /** At most this many requests per second on each connection. Default: no limit. */
  connectionRate?: number;
}

export interface LoadResult {
  /** Requests written to a socket. */
  sent: number;
  /** Answers by HTTP status. */
  statuses: Record<string, number>;
  /** Requests that ended without an answer, by error code (`ECONNRESET`, `timeout`, ...). */
  errors: Record<string, number>;
  /** Sent, with neither an answer nor an error: cut off by the end of a timed run, or lost (the server closed the connection without answering). */
  unanswered: number;
  /** autocannon's own summary: latency percentiles, requests/s, duration. */
  summary: AutocannonResult;
}

const count = (tally: Record<string, number>, key: string): void => {
  tally[key] = (tally[key] ?? 0) + 1;
};
const sum = (tally: Record<string, number>): number => Object.values(tally).reduce((a, b) => a + b, 0);

/** What autocannon sends: the static list as is, or one request whose setup asks `next` for the actual one. */
function autocannonRequests(o: LoadOptions): AutocannonRequest[] {
  const { requests, onResponse } = o;
  if (typeof requests !== 'function') {
    return requests.map((r) => ({ ...r, onResponse: onResponse && ((status: number, body: string) => onResponse(status, body, r)) }));
  }
  return [{
    // autocannon gives each connection a context that lives from a request's setup to its answer.
    setupRequest: (base, context) => {
      const r = requests();
      context.request = r;
      return { ...base, ...r };
    },
    onResponse: onResponse && ((status, body, context) => onResponse(status, body, context.request as LoadRequest)),
  }];
}

/** Starts a run: autocannon's instance, its connections, and the tallies its events fill. */
function start(o: LoadOptions, seconds: number) {
  const clients: Client[] = [];
  const statuses: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const instance = autocannon({
    url: o.url,
    connections: o.connections,
    duration: seconds,
    timeout: o.timeoutSeconds ?? 30,
    connectionRate: o.connectionRate,
    requests: autocannonRequests(o),
    setupClient: (client) => clients.push(client),
  });
  instance.on('response', (_client: Client, status: number) => count(statuses, String(status)));
  instance.on('reqError', (error: NodeJS.ErrnoException) => count(errors, error.code ?? (/timed out/.test(error.message) ? 'timeout' : error.message)));
  const finish = async (): Promise<LoadResult> => {
    const summary = await instance;
    const sent = clients.reduce((n, c) => n + c.reqsMade, 0);
    return { sent, statuses, errors, unanswered: sent - sum(statuses) - sum(errors), summary };
  };
  return { instance, clients, finish };
}

/**
 * Load for `seconds`, then stop (requests in flight are cut off).
 *
 * @example
 * const r = await loadFor({ url, connections: 16, requests: [{ method: 'POST', path: '/v1/search', headers, body: png }] }, 30);
 * r.summary.latency.p99; r.statuses['200'];
 */
export function loadFor(o: LoadOptions, seconds: number): Promise<LoadResult> {
  return start(o, seconds).finish();
}

/**
 * Load while `during()` runs, then drain: each connection stops once its request in flight is
 * answered (or fails), so every request sent ends as a status, an error or a lost request.
 *
 * @example
 * const { load } = await loadWhile({ url, connections: 64, requests: [search] }, () => swapSnapshots());
 * load.sent - (load.statuses['200'] ?? 0); // requests that did not succeed
 */
export async function loadWhile<T>(o: LoadOptions, during: () => Promise<T>): Promise<{ load: LoadResult; value: T }> {
  // A day: the run ends by draining, not by autocannon's clock.
  const run = start(o, 24 * 3600);
  let value: T;
  try {
    value = await during();
  } catch (error) {
    run.instance.stop();
    await run.instance;
    throw error;
  }
  // A connection checks `responseMax` before each new request: at the count it has made, it closes
  // after the answer (or error) of the one in flight. autocannon ends the run when all have closed.
  for (const client of run.clients) client.responseMax = client.reqsMade;
  return { load: await run.finish(), value };
}

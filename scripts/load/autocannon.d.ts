/** The part of autocannon 8's API the load helper uses (the package ships no types). */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  interface AutocannonRequest {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    /** Called before each request is sent; the returned request is the one sent. */
    setupRequest?: (request: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest;
    /** Called with each answer and the connection's context. */
    onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, string | string[]>) => void;
  }
  /**
   * One connection. `reqsMade` and `responseMax` are not in autocannon's documented API: the load
   * helper reads the first (requests written) and sets the second to stop a connection after its
   * in-flight request (autocannon 8.0.0 is pinned in package.json).
   */
  interface Client extends EventEmitter {
    reqsMade: number;
    responseMax?: number;
  }
  interface AutocannonOptions {
    url: string;
    connections?: number;
    duration?: number;
    /** Stop after this many requests instead of after `duration`. */
    amount?: number;
    timeout?: number;
    connectionRate?: number;
    requests?: AutocannonRequest[];
    setupClient?: (client: Client) => void;
  }
  interface Histogram {
    average: number;
    p50: number;
    p90: number;
    p97_5: number;
    p99: number;
    total: number;
  }
  interface AutocannonResult {
    requests: Histogram;
    latency: Histogram;
    /** Socket errors and timeouts (a timeout counts in both `errors` and `timeouts`). */
    errors: number;
    timeouts: number;
    non2xx: number;
    duration: number;
  }
  /** A run: a promise of its result, an emitter of `response` (client, status, bytes, ms) and `reqError` (error), and `stop()`. */
  interface Instance extends EventEmitter, PromiseLike<AutocannonResult> {
    stop(): void;
  }
  function autocannon(options: AutocannonOptions): Instance;
  export type { AutocannonRequest, AutocannonResult, Client, Instance };
  export default autocannon;
}

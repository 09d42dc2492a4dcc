/**
 * The wrangler-compatible Node adapter: runs a Workers-style module (wrangler.toml `main`) on
 * Node exactly as it is configured for deployment.
 *
 * - Configuration: wrangler.toml read with a TOML parser, `[vars]` and the secrets in `.dev.vars`
 *   merged as `wrangler dev` merges them (wrangler-config.ts); the process environment may
 *   override the documented keys (MODEL_DIR, API_KEYS, …). Relative directories are resolved
 *   against wrangler.toml's folder.
 * - Serving: the module's `fetch(request, env, ctx)` behind @hono/node-server, on 127.0.0.1:8787
 *   by default. Without API keys it binds only loopback addresses (and says so loudly); asked to
 *   bind anything else without keys, it refuses to start.
 * - Cron: `[triggers] crons` fire the module's `scheduled(event, env, ctx)` (croner, UTC, no
 *   overlapping runs). `--test-scheduled` also exposes `/__scheduled?cron=…` like `wrangler dev`.
 * - Shutdown: on SIGTERM/SIGINT it stops accepting connections, lets requests in flight and
 *   `waitUntil` work finish (bounded by a drain timeout), then closes the runtime and exits.
 */
import { Server as NetServer, type AddressInfo } from 'node:net';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createAdaptorServer, type Http2Bindings, type HttpBindings } from '@hono/node-server';
import { Cron } from 'croner';
import { isLoopback } from '../auth/index.js';
import { authEnabled, ConfigError, parseApiConfig } from '../config/index.js';
import { createLogger, type Logger } from '../log.js';
import { closeSharedRuntime, LOOPBACK_ONLY } from '../runtime.js';
import { acceptQueueLength } from './accept-queue.js';
import { recordRequestTarget } from './request-target.js';
import { readWranglerEnv, type WranglerEnv } from './wrangler-config.js';

/**
 * Resolves after the event loop has been through a whole poll phase (where sockets are read and
 * connections accepted). Two immediates: the first may run in the check phase right after the
 * current callback, before any polling.
 */
async function pollPhase(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
}

/** net.Server#close: stops listening without http.Server#close's immediate drop of idle keep-alive connections. */
const netClose = NetServer.prototype.close;

export { readWranglerEnv, type WranglerEnv } from './wrangler-config.js';

export interface WorkerModule {
  fetch(request: Request, env: Record<string, unknown>, ctx: AdapterExecutionContext): Response | Promise<Response>;
  scheduled?(event: { cron: string; scheduledTime: number; type: 'scheduled' }, env: Record<string, unknown>, ctx: AdapterExecutionContext): void | Promise<void>;
}

export interface AdapterExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
}

export interface NodeAdapterOptions {
  /** wrangler.toml (or .json/.jsonc). Default `./wrangler.toml`. */
  configPath?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8787; 0 picks a free port. */
  port?: number;
  /** Overrides for the documented config keys (default: process.env). Other keys are ignored. */
  overrides?: Readonly<Record<string, string | undefined>>;
  /** The config, already being read (`readWranglerEnv(configPath)` started early to overlap start-up). */
  wrangler?: Promise<WranglerEnv>;
  /** How long shutdown waits for requests in flight and waitUntil work. Default 10 s. */
  drainTimeoutMs?: number;
  /**
   * After it stops accepting, shutdown still answers requests on open keep-alive connections until none
   * has arrived for this long (then idle connections close). Default 500 ms.
   */
  idleGraceMs?: number;
  /** Expose `GET /__scheduled?cron=…` to fire the scheduled handler (as `wrangler dev --test-scheduled`). */
  testScheduled?: boolean;
  /** Run the crons from wrangler.toml. Default true. */
  crons?: boolean;
  /** Exit the process on SIGTERM/SIGINT after draining. Default false (the CLI turns it on). */
  handleSignals?: boolean;
  log?: Logger;
}

export interface NodeAdapter {
  url: string;
  port: number;
  host: string;
  /** The env handed to the module (vars + secrets + overrides). */
  env: Record<string, unknown>;
  crons: string[];
  /** Requests being handled right now. */
  inFlight(): number;
  /** Fires the scheduled handler as a cron would, and waits for its waitUntil work. */
  runScheduled(cron?: string): Promise<void>;
  /** Stops accepting, drains, closes the runtime. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the adapter: reads the config, loads and warms the module (the runtime loads the model
 * and the index before the port opens), listens, schedules the crons.
 *
 * @example
 * const server = await startNodeAdapter({ configPath: 'wrangler.toml', handleSignals: true });
 * console.log(`serving on ${server.url}`);
 */
export async function startNodeAdapter(options: NodeAdapterOptions = {}): Promise<NodeAdapter> {
  const configPath = resolve(options.configPath ?? 'wrangler.toml');
  const host = options.host ?? '127.0.0.1';
  const wanted = options.port ?? 8787;
  const { main, crons, env } = await (options.wrangler ?? readWranglerEnv(configPath, options.overrides ?? process.env));
  const config = parseApiConfig(env, { baseDir: dirname(configPath) });
  const log = options.log ?? createLogger(config.logLevel);

  if (!authEnabled(config)) {
    if (!isLoopback(host)) {
      throw new ConfigError(`refusing to serve on ${host} without API keys: set API_KEYS / ADMIN_KEYS (in .dev.vars or the environment), or bind 127.0.0.1`);
    }
    (env as Record<symbol, unknown>)[LOOPBACK_ONLY] = true;
    const banner = '!'.repeat(78);
    process.stderr.write(`${banner}\n!! NO API KEYS CONFIGURED: every route, enrolment and deletion included, is open to anyone\n!! who can reach ${host}. Serving on loopback only. Set API_KEYS and ADMIN_KEYS in .dev.vars.\n${banner}\n`);
  }

  const mod = (await import(pathToFileURL(main).href)) as { default?: WorkerModule };
  const worker = mod.default;
  if (!worker || typeof worker.fetch !== 'function') throw new ConfigError(`${main} has no default export with a fetch() handler`);

  const background = new Set<Promise<unknown>>();
  const ctx: AdapterExecutionContext = {
    waitUntil(promise) {
      const tracked = promise.catch((error: unknown) => log.error({ err: error instanceof Error ? error.message : String(error) }, 'waitUntil work failed')).finally(() => background.delete(tracked));
      background.add(tracked);
    },
    passThroughOnException() {
      /* nothing to pass through to on Node */
    },
  };

  const runScheduled = async (cron = crons[0] ?? '* * * * *'): Promise<void> => {
    if (!worker.scheduled) throw new Error(`${main} has no scheduled() handler`);
    const before = new Set(background);
    await worker.scheduled({ cron, scheduledTime: Date.now(), type: 'scheduled' }, env, ctx);
    await Promise.all([...background].filter((p) => !before.has(p)));
  };

  // Warm up: the first request builds the runtime (model, index) before the port opens.
  const warm = await worker.fetch(new Request(`http://${host}/readyz`), env, ctx);
  await warm.arrayBuffer();

  let draining = false;
  let active = 0;
  let drained: (() => void) | null = null;
  const server = createAdaptorServer({
    fetch: async (request: Request, { incoming }: HttpBindings | Http2Bindings) => {
      recordRequestTarget(request, incoming.url ?? '/');
      const url = new URL(request.url);
      if (options.testScheduled && url.pathname === '/__scheduled') {
        await runScheduled(url.searchParams.get('cron') ?? undefined);
        return new Response('Ran scheduled event\n', { headers: { 'content-type': 'text/plain' } });
      }
      return worker.fetch(request, env, ctx);
    },
    hostname: host,
  }) as Server;
  const responses = new Set<ServerResponse>();
  let lastRequestAt = 0;
  let accepted = 0;
  server.on('connection', () => accepted++);
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    active++;
    lastRequestAt = performance.now();
    responses.add(res);
    if (draining) res.setHeader('connection', 'close');
    res.on('close', () => {
      active--;
      responses.delete(res);
      if (draining && active === 0) drained?.();
    });
  });

  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(wanted, host, () => {
      server.off('error', reject);
      resolvePromise();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const jobs = (options.crons ?? true)
    ? crons.map(
        (expression) =>
          new Cron(expression, { timezone: 'UTC', protect: true, catch: (error: unknown) => log.error({ cron: expression, err: String(error) }, 'scheduled run failed') }, async () => {
            await runScheduled(expression);
          }),
      )
    : [];
  log.info({ url, main, crons, config: configPath, auth: authEnabled(config) ? 'keys' : 'none (loopback only)' }, 'listening');

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      // Requests in flight answer, then their keep-alive connections close.
      for (const res of responses) if (!res.headersSent) res.setHeader('connection', 'close');
      for (const job of jobs) job.stop();
      // Stop accepting, but not with http.Server#close: it also drops idle keep-alive connections at once,
      // racing clients that have just sent their next request on one (they would see ECONNRESET).
      // Instead, requests on open connections are still answered (with `Connection: close`) until none
      // has started for a whole grace period — a busy (or starved) event loop may not yet have read a
      // request a client sent in time, and its connection looks idle until it does — and only then are
      // the connections that stayed idle closed. Grace and drain share one deadline.
      const grace = options.idleGraceMs ?? 500;
      const deadline = performance.now() + (options.drainTimeoutMs ?? 10_000);
      // Closing the listener resets the connections waiting in its accept queue, with the requests
      // clients have already sent on them; Node accepts one connection per loop iteration, so after a
      // blocked loop the queue can be long. Accept every connection that was waiting when shutdown began
      // (the queue is FIFO; Linux reports its length) and then until a poll phase brings none (bounded by
      // one grace period, as clients may keep connecting).
      const mustAccept = accepted + (acceptQueueLength(port) ?? 0);
      const quietBy = Math.min(deadline, performance.now() + grace);
      for (let before = -1; performance.now() < deadline; ) {
        const queued = accepted < mustAccept && acceptQueueLength(port) !== 0;
        if (!queued && (before === accepted || performance.now() >= quietBy)) break;
        before = accepted;
        await pollPhase();
      }
      const stopped = new Promise<void>((r) => netClose.call(server, () => r()));
      lastRequestAt = performance.now();
      while (performance.now() < deadline) {
        // After a blocked loop the late timer (or this code) runs before the poll phase has read what
        // arrived meanwhile: let a whole poll phase pass before judging the quiet.
        await pollPhase();
        const quietFor = performance.now() - lastRequestAt;
        if (quietFor >= grace) break;
        await new Promise((r) => setTimeout(r, grace - quietFor).unref());
      }
      server.closeIdleConnections();
      const allDone = new Promise<void>((r) => {
        drained = r;
        if (active === 0) r();
      });
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), Math.max(0, deadline - performance.now())).unref());
      if ((await Promise.race([allDone.then(() => 'ok' as const), timer])) === 'timeout') log.warn({ active }, 'drain timeout: closing remaining connections');
      server.closeAllConnections();
      await stopped;
      await Promise.race([Promise.all([...background]), timer]);
      await closeSharedRuntime();
      log.info('stopped');
    })();
    return closing;
  };

  if (options.handleSignals) {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (closing) {
        process.stderr.write(`${signal} again: exiting now\n`);
        process.exit(130);
      }
      log.info({ signal }, 'shutting down: draining requests in flight');
      void close().then(
        () => process.exit(0),
        (error: unknown) => {
          log.error({ err: String(error) }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }

  return { url, port, host, env, crons, inFlight: () => active, runScheduled, close };
}

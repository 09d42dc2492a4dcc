/**
 * Workers-style module: the entry point wrangler.toml names as `main`. `fetch` serves the API,
 * `scheduled` runs the nightly re-index (wrangler.toml `[triggers] crons`).
 *
 * The search handlers need Node (sharp and hnswlib-node are native addons that workerd cannot
 * load), so this module runs on a Node runtime: locally and on a server through the
 * wrangler-compatible Node adapter (`npm run dev`, `npm start`), on any platform that runs
 * Workers-style modules on Node, or wrapped by functions/lambda.ts and functions/api/[[route]].ts.
 */
import { getRuntime } from '../src/api/runtime.js';

/** Bindings: wrangler `[vars]` plus secrets (API_KEYS, ADMIN_KEYS). See docs/api.md for the keys. */
export type Env = Record<string, unknown>;

/** The parts of the Workers ExecutionContext this module uses. */
export interface ExecutionContextLike {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException?(): void;
}

export interface ScheduledEventLike {
  cron: string;
  scheduledTime: number;
  type?: 'scheduled';
}

const worker = {
  /**
   * @example
   * const res = await worker.fetch(new Request('http://localhost/v1/search', { method: 'POST', body }), env, ctx);
   */
  async fetch(request: Request, env: Env, ctx: ExecutionContextLike): Promise<Response> {
    const runtime = await getRuntime(env);
    return runtime.app.fetch(request, env, ctx as Parameters<typeof runtime.app.fetch>[2]);
  },

  /**
   * Re-index (only what changed), then swap the new snapshot in; the platform keeps the
   * invocation alive until it finishes.
   *
   * @example
   * await worker.scheduled({ cron: '0 3 * * *', scheduledTime: Date.now() }, env, ctx);
   */
  async scheduled(event: ScheduledEventLike, env: Env, ctx: ExecutionContextLike): Promise<void> {
    const runtime = await getRuntime(env);
    runtime.log.info({ cron: event.cron, scheduledTime: new Date(event.scheduledTime).toISOString() }, 'scheduled re-index');
    ctx.waitUntil(runtime.reindex());
  },
};

export default worker;

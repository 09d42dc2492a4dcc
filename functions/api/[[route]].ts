/**
 * Pages Functions entry: every request under /api/* reaches the one app, with the /api prefix
 * removed (so /api/v1/search is the app's /v1/search). A catch-all at functions/[[route]].ts
 * would hide the static assets in `wrangler pages dev`; functions/api/ does not.
 */
import { Hono } from 'hono';
import { handle } from 'hono/cloudflare-pages';
import { getRuntime } from '../../src/api/runtime.js';

type Bindings = Record<string, unknown>;

/** Strips the mount prefix and hands the request to the shared app. */
export const pages = new Hono<{ Bindings: Bindings }>().all('/api/*', async (c) => {
  const runtime = await getRuntime(c.env);
  const url = new URL(c.req.url);
  url.pathname = url.pathname.slice('/api'.length) || '/';
  return runtime.app.fetch(new Request(url, c.req.raw), c.env, c.executionCtx);
});

/**
 * @example
 * const res = await onRequest({ request, env, params: {}, waitUntil, passThroughOnException, next, data: {}, functionPath: '/api/[[route]]' });
 */
export const onRequest = handle(pages);

/**
 * The one Hono app: built by `createApp` from its dependencies (model card, embedder, index
 * holder, config, metrics, logger), so tests build it with a tiny real model and index and
 * every entry point (Workers module, Pages Function, Lambda, the Node adapter) serves the same
 * app. Handlers are thin; the work happens in the modules they call.
 */
import { fileURLToPath } from 'node:url';
import { OpenAPIHono } from '@hono/zod-openapi';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import { routePath } from 'hono/route';
import { secureHeaders } from 'hono/secure-headers';
import { apiContext, type AppDeps } from './context.js';
import { ApiError, errorResponse, toApiError } from './errors/index.js';
import { validationHook } from './routes/define.js';
import { refuseGalleryDotSegments, registerGalleryRoutes } from './routes/gallery.js';
import { registerDocumentRoute, registerOpsRoutes } from './routes/ops.js';
import { registerSearchRoutes } from './routes/search.js';

export type { AppDeps } from './context.js';

/** Where the demo page's files are looked up by default. */
export const DEFAULT_DEMO_DIR = fileURLToPath(new URL('./demo/', import.meta.url));

/** Route label for metrics: the registered pattern, never the raw path (bounded cardinality). */
function routeLabel(c: Parameters<typeof routePath>[0]): string {
  try {
    const path = routePath(c, -1);
    return path === '*' || path === '/*' || path === '' ? 'unmatched' : path;
  } catch {
    return 'unmatched';
  }
}

/**
 * @example
 * const app = createApp({ config, card, embedder, holder, metrics, log });
 * const res = await app.request('/v1/search', { method: 'POST', body: pngBytes });
 * // serve it: serve({ fetch: app.fetch, port: 8787 }) — or through functions/worker.ts
 */
export function createApp(deps: AppDeps): OpenAPIHono {
  const ctx = apiContext(deps);
  const { log, metrics, config } = ctx;
  // Query and path parameters are validated by @hono/zod-openapi; failures answer with our 400s.
  const app = new OpenAPIHono({ defaultHook: validationHook });

  app.use('*', requestId());
  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    const seconds = (performance.now() - started) / 1000;
    const route = routeLabel(c);
    metrics.observeRequest(c.req.method, route, c.res.status, seconds);
    log.debug({ method: c.req.method, route, status: c.res.status, ms: Math.round(seconds * 1e4) / 10, requestId: c.get('requestId') }, 'request');
  });
  app.use('*', secureHeaders({ crossOriginResourcePolicy: config.corsOrigins.length ? 'cross-origin' : 'same-origin' }));
  if (config.corsOrigins.length) {
    app.use(
      '*',
      cors({
        origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins,
        allowHeaders: ['Authorization', 'Content-Type'],
        allowMethods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
        exposeHeaders: ['Server-Timing', 'X-Request-Id'],
        maxAge: 600,
      }),
    );
  }

  app.use('*', refuseGalleryDotSegments);

  registerOpsRoutes(app, ctx, deps.demoDir ?? DEFAULT_DEMO_DIR);
  registerSearchRoutes(app, ctx);
  registerGalleryRoutes(app, ctx);

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'API key: read keys (API_KEYS) for search/verify/embed/gallery listing, admin keys (ADMIN_KEYS) for enrolment and deletion' });
  registerDocumentRoute(app, {
    openapi: '3.1.0',
    info: {
      title: 'twinsearch',
      version: '1',
      description: `Image-similarity search over a gallery of identities (model ${ctx.card.modelId}). Errors are JSON { "error": { "code", "message" } }. The routes without /v1 (/search, /verify, /embed, /gallery…) are aliases of the /v1 routes (x-alias-of).`,
    },
  });

  app.notFound((c) => errorResponse(c, new ApiError('NOT_FOUND', `no route for ${c.req.method} ${new URL(c.req.url).pathname}`)));
  app.onError((err, c) => {
    let error: unknown = err;
    if (err instanceof HTTPException) {
      error = new ApiError(err.status === 413 ? 'PAYLOAD_TOO_LARGE' : err.status === 401 ? 'UNAUTHORIZED' : 'INVALID_PARAMETER', err.message || 'bad request', { cause: err });
    }
    const api = toApiError(error);
    if (api.status >= 500) log.error({ err: err instanceof Error ? (err.stack ?? err.message) : String(err), requestId: c.get('requestId') }, 'request failed');
    return errorResponse(c, api);
  });
  return app;
}

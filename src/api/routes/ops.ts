/**
 * Operational routes: `/healthz` (alive), `/readyz` (model + verified index loaded),
 * `/metrics` (Prometheus), `/v1/index` (what is serving), `/openapi.json`, and the demo page files.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { requirePermission } from '../auth/index.js';
import type { ApiContext } from '../context.js';
import { ApiError } from '../errors/index.js';
import { ErrorSchema, HealthSchema, IndexInfoSchema, ReadySchema, z } from '../schemas/index.js';
import { openApiPath, serveRoute, okJson, keyed } from './define.js';

const DEMO_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=UTF-8' },
  '/demo.js': { file: 'demo.js', type: 'text/javascript; charset=UTF-8' },
  '/demo.css': { file: 'demo.css', type: 'text/css; charset=UTF-8' },
};

/**
 * @example
 * registerOpsRoutes(app, ctx, '/srv/twinsearch/src/api/demo');
 */
export function registerOpsRoutes(app: OpenAPIHono, ctx: ApiContext, demoDir: string): void {
  const read = requirePermission('read', ctx.ring);

  serveRoute(
    app,
    createRoute({ method: 'get', path: '/healthz', summary: 'Liveness: the process answers', responses: { 200: okJson('Alive', HealthSchema) } }),
    (c) => c.json({ status: 'ok' as const }),
  );

  const readyz = createRoute({
    method: 'get',
    path: '/readyz',
    summary: 'Readiness: model loaded and a verified index snapshot serving',
    responses: {
      200: okJson('Ready (or degraded: serving, newest snapshot refused)', ReadySchema),
      503: okJson('Not ready', ReadySchema),
    },
  });
  serveRoute(app, readyz, (c) => {
    const s = ctx.store.status();
    const status = !s.ready ? 'not-ready' : s.refused ? 'degraded' : 'ready';
    const refused = s.refused && { version: s.refused.generation, code: s.refused.code, message: s.refused.message, at: s.refused.at };
    const body = { status, model: { id: ctx.card.modelId, loaded: true }, index: { version: s.generation, loaded: s.ready, refused }, problem: s.problem } as const;
    return c.json(body, s.ready ? 200 : 503);
  });

  const metrics = createRoute({
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics (needs a read key when keys are configured)',
    ...keyed(read),
    responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } }, 401: okJson('No or invalid key', ErrorSchema) },
  });
  serveRoute(app, metrics, async (c) => {
    const text = await ctx.metrics.registry.metrics();
    return c.body(text, 200, { 'content-type': ctx.metrics.registry.contentType });
  });

  const indexInfo = createRoute({
    method: 'get',
    path: '/v1/index',
    summary: 'The serving index: version, counts, HNSW parameters, model, reload state',
    ...keyed(read),
    responses: { 200: okJson('Index information', IndexInfoSchema), 503: okJson('No index loaded', ErrorSchema) },
  });
  serveRoute(app, indexInfo, (c) => {
    const { generation, params, dim, metric, normalized, model, ...counts } = ctx.requireReader().info();
    const h = ctx.store.status();
    const refused = h.refused && { version: h.refused.generation, code: h.refused.code, message: h.refused.message, at: h.refused.at };
    const { width, height, channels } = ctx.card.preprocess;
    return c.json({
      version: generation,
      ...counts,
      params: { ...params, dim, metric, normalized },
      model: { ...model, input: { width, height, channels }, threshold: ctx.threshold },
      reload: { loadedAt: h.loadedAt, lastCheckAt: h.lastCheckAt, swaps: h.swaps, failures: h.reloadFailures, refused },
    });
  });

  // The demo page (written separately): served when its files exist, 404 JSON otherwise; not part of the API document.
  for (const [path, { file, type }] of Object.entries(DEMO_FILES)) {
    serveRoute(app, createRoute({ method: 'get', path, hide: true, responses: { 200: { description: file } } }), async (c) => {
      const bytes = await readFile(join(demoDir, file)).catch(() => undefined);
      if (!bytes) throw new ApiError('NOT_FOUND', path === '/' ? 'no demo page is installed (src/api/demo/index.html)' : `${path} is not installed`);
      return c.body(new Uint8Array(bytes), 200, { 'content-type': type, 'cache-control': 'no-cache' });
    });
  }
}

/**
 * `GET /openapi.json`, itself a documented route: the document generated from every route's
 * definition, with Hono's patterned parameters (`{identity{[\s\S]+}}`) written as OpenAPI's `{identity}`.
 *
 * @example
 * registerDocumentRoute(app, { openapi: '3.1.0', info: { title: 'twinsearch', version: '1' } });
 */
export function registerDocumentRoute(app: OpenAPIHono, config: Parameters<OpenAPIHono['getOpenAPI31Document']>[0]): void {
  const route = createRoute({
    method: 'get',
    path: '/openapi.json',
    summary: 'This document (OpenAPI 3.1)',
    responses: { 200: { description: 'The OpenAPI document', content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } } },
  });
  serveRoute(app, route, (c) => {
    const document = app.getOpenAPI31Document(config);
    return c.json({ ...document, paths: Object.fromEntries(Object.entries(document.paths ?? {}).map(([path, item]) => [openApiPath(path), item])) });
  });
}

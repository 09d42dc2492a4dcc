/**
 * One definition per route, served and documented together: `serveRoute` hands the route to
 * @hono/zod-openapi's `app.openapi(route, handler)`, which registers the handler and adds the
 * route to /openapi.json, so the document cannot drift from what is served. Route-level
 * `middleware` (auth) runs before the library's validators and the handler.
 *
 * What the library validates, and what the handlers do:
 * - `request.query` and `request.params` (zod) are validated by the library; a failure goes to
 *   `validationHook`, which answers with our 400 INVALID_PARAMETER (never the library's default body).
 * - Request bodies are documented but validated by the handlers. For a JSON or form media type
 *   with a zod schema the library (1) adds a gate answering 415 to any other Content-Type — our
 *   routes take raw image bodies of any type (curl --data-binary sends
 *   application/x-www-form-urlencoded); (2) validates `{}` when the body is not JSON, failing raw
 *   and multipart uploads; (3) reads the whole body with `c.req.json()` / `arrayBuffer()` before the
 *   handler, bypassing our reader, which counts bytes as they stream and stops at the limit. So
 *   body schemas are given as references (`jsonBody`) or plain schema objects, which the library
 *   documents without validating, and the handlers parse the limited body with the same zod schemas.
 */
import { createRoute, type OpenAPIHono, type RouteConfig, type RouteHandler, type z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { ErrorSchema, validationError } from '../schemas/index.js';

/** The context a handler of `R` gets (validated query and params typed from the route). */
export type RouteContext<R extends RouteConfig> = Parameters<RouteHandler<R>>[0];

/**
 * The `defaultHook` of the app: zod failures of the query string or path parameters become our
 * 400 INVALID_PARAMETER (a body, were one validated here, INVALID_BODY).
 *
 * @example
 * const app = new OpenAPIHono({ defaultHook: validationHook });
 */
export function validationHook(result: { success: true } | { success: false; error: z.ZodError; target: string }): void {
  if (result.success) return;
  const body = result.target === 'json' || result.target === 'form';
  throw validationError(result.error, result.target === 'param' ? 'path' : result.target, body ? 'INVALID_BODY' : 'INVALID_PARAMETER');
}

/** Routes that need a key (the `bearer` scheme is registered with the document). */
export const security = [{ bearer: [] }];

/**
 * A route that needs a key: documented with the bearer scheme, guarded by `permission` (auth runs
 * before the library's validators and the handler).
 *
 * @example
 * createRoute({ method: 'post', path: '/v1/search', ...keyed(read), request, responses })
 */
export function keyed<M extends MiddlewareHandler>(permission: M) {
  return { security, middleware: permission };
}

/**
 * A documented JSON response.
 *
 * @example
 * responses: { 200: okJson('Matches and decision', SearchResponseSchema), ...errorResponses }
 */
export function okJson(description: string, schema: z.ZodType) {
  return { description, content: { 'application/json': { schema } } };
}

/** The error responses of the image routes. */
export const errorResponses = {
  400: { description: 'Bad parameters, body or base64', content: { 'application/json': { schema: ErrorSchema } } },
  401: { description: 'No or invalid API key', content: { 'application/json': { schema: ErrorSchema } } },
  413: { description: 'Body, image or pixel count over the limit', content: { 'application/json': { schema: ErrorSchema } } },
  415: { description: 'Not an accepted image format, or undecodable', content: { 'application/json': { schema: ErrorSchema } } },
  422: { description: 'A valid image that cannot be used: too small (IMAGE_TOO_SMALL); face models: no face in it (NO_FACE), or several in an image to enrol (MULTIPLE_FACES)', content: { 'application/json': { schema: ErrorSchema } } },
  503: { description: 'Model or index not loaded', content: { 'application/json': { schema: ErrorSchema } } },
};

const REF_PREFIX = '#/components/schemas/';

/**
 * A JSON body schema for a route's `request.body.content`: registered as a component and
 * referenced, so it is documented but not validated by the library (see above).
 *
 * @example
 * content: { 'application/json': jsonBody(app, 'SearchJsonBody', SearchJsonBodySchema) }
 */
export function jsonBody(app: OpenAPIHono, name: string, schema: z.ZodType): { schema: { $ref: string } } {
  app.openAPIRegistry.register(name, schema);
  return { schema: { $ref: `${REF_PREFIX}${name}` } };
}

/** A binary file (multipart part or raw body), as a plain schema object. */
export const binary = { type: 'string' as const, format: 'binary' };

/** Multipart fields holding files, as a plain schema object (`many`: each field may repeat). */
export function multipartFiles(fields: readonly string[], options: { many?: boolean; required?: readonly string[] } = {}) {
  const field = options.many ? { type: 'array' as const, items: binary } : binary;
  const required = [...(options.required ?? fields)];
  return { schema: { type: 'object' as const, properties: Object.fromEntries(fields.map((f) => [f, field])), ...(required.length ? { required } : {}) } };
}

/** OpenAPI's `{name}` for a Hono path parameter with a pattern (`{identity{[\s\S]+}}` → `{identity}`). */
export function openApiPath(path: string): string {
  return path.replace(/\{([A-Za-z_]\w*)\{(?:[^{}]|\{[^{}]*\})*\}\}/g, '{$1}');
}

/** The path without the `/v1` prefix: the alias the design names the endpoint by. */
export const aliasPath = (path: string): string => path.replace(/^\/v1(?=\/)/, '');

/**
 * The alias of `route` at `path`: same request, responses, security and middleware; its summary
 * says which route it is an alias of, and the `x-alias-of` extension names it.
 *
 * @example
 * aliasRoute(searchRoute, '/search') // { path: '/search', summary: 'Alias of POST /v1/search. …', 'x-alias-of': '/v1/search', … }
 */
export function aliasRoute<R extends RouteConfig>(route: R, path: string): R {
  const of = openApiPath(route.path);
  return createRoute({
    ...route,
    path,
    summary: `Alias of ${route.method.toUpperCase()} ${of}. ${route.summary ?? ''}`.trim(),
    deprecated: false,
    'x-alias-of': of,
  }) as R;
}

/**
 * Serves and documents `route` (and its alias without `/v1` when `alias` is set).
 *
 * Handlers answer with plain Responses (timed JSON with Server-Timing, PNG bytes): the response
 * schemas in the route document them, and the tests parse responses with the same schemas.
 *
 * @example
 * serveRoute(app, createRoute({ method: 'get', path: '/healthz', responses }), (c) => c.json({ status: 'ok' }));
 */
export function serveRoute<R extends RouteConfig>(app: OpenAPIHono, route: R, handler: (c: RouteContext<R>) => Response | Promise<Response>, options: { alias?: boolean } = {}): void {
  // The library types a handler's return value from the route's responses (typed JSON); ours build Responses themselves.
  const serve = handler as unknown as RouteHandler<R>;
  app.openapi(route, serve);
  if (options.alias) app.openapi(aliasRoute(route, aliasPath(route.path)), serve);
}

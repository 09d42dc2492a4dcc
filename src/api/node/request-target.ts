/**
 * The request path as the client sent it. URL parsing resolves "." and ".." segments, literal
 * or percent-encoded (`/v1/gallery/x/../y` and `/v1/gallery/x/%2e%2e/y` both become
 * `/v1/gallery/y`): @hono/node-server parses every target holding one with `new URL()`, and
 * `new Request(url)` always does. So `request.url` can no longer show them. Adapters that still
 * have the raw target record it here, keyed by the Request object the app receives, which a
 * client cannot forge (a header could be).
 */

const targets = new WeakMap<Request, string>();

/** The path of a request target: origin-form as is, absolute-form without scheme and authority, without query or fragment. */
function targetPath(target: string): string {
  const path = target.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '');
  return path.split(/[?#]/, 1)[0] || '/';
}

/**
 * Records the request target (`IncomingMessage#url`, an API Gateway `rawPath`) for `request`.
 *
 * @example
 * createAdaptorServer({ fetch: (request, { incoming }) => { recordRequestTarget(request, incoming.url ?? '/'); return app.fetch(request); } });
 */
export function recordRequestTarget(request: Request, target: string): void {
  targets.set(request, target);
}

/**
 * The path as the client sent it, when an adapter recorded it (undefined otherwise: `request.url`
 * is all there is, dot segments already resolved).
 *
 * @example
 * sentPath(request) // '/v1/gallery/x/../y' behind the Node adapter
 */
export function sentPath(request: Request): string | undefined {
  const target = targets.get(request);
  return target === undefined ? undefined : targetPath(target);
}

/**
 * Whether a path has a "." or ".." segment in any spelling URL parsing resolves (`%2e` is a dot).
 *
 * @example
 * hasDotSegment('/v1/gallery/x/%2E%2e/y') // true
 * hasDotSegment('/v1/gallery/x/..%2Fy') // false: not a segment of its own (the identity check refuses it)
 */
export function hasDotSegment(path: string): boolean {
  return path.split('/').some((segment) => {
    const s = segment.replace(/%2e/gi, '.');
    return s === '.' || s === '..';
  });
}

/**
 * Gallery routes: enrol (admin), delete (admin), list identities (paged), image thumbnails.
 * Identity names may contain `/` (e.g. `Latin/character03`): send them percent-encoded or as
 * extra path segments. "." and ".." segments are refused in every spelling, never resolved.
 */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { isIndexError } from '../../index/errors.js';
import { validateIdentity } from '../../index/store.js';
import { requirePermission } from '../auth/index.js';
import type { ApiContext } from '../context.js';
import { ApiError } from '../errors/index.js';
import { thumbnail } from '../images/index.js';
import { hasDotSegment, sentPath } from '../node/request-target.js';
import {
  decodeGalleryCursor,
  DeleteResponseSchema,
  encodeGalleryCursor,
  EnrolJsonBodySchema,
  EnrolOptionsSchema,
  EnrolResponseSchema,
  ErrorSchema,
  GalleryQuerySchema,
  GalleryResponseSchema,
  validate,
  z,
} from '../schemas/index.js';
import { binary, errorResponses, jsonBody, multipartFiles, serveRoute, okJson, keyed } from './define.js';
import { enrolFace, faceSearch, faceThumbnail, findFacesAll } from './faces.js';
import { beginImageRequest, bodyImages, decodeAll, formFields, type Timer } from './pipeline.js';

/** What to store for each image: its bytes and vector (a face model: exactly one face, or the named one). */
async function enrolItems(ctx: ApiContext, t: Timer, images: Uint8Array[], face: number | undefined): Promise<{ bytes: Uint8Array; vector: Float32Array }[]> {
  const faces = faceSearch(ctx);
  if (!faces) {
    if (face !== undefined) throw new ApiError('INVALID_PARAMETER', 'face applies to face models only; this model embeds whole images');
    const inputs = await t.stage('decode', () => decodeAll(ctx, images));
    const vectors = await t.stage('embed', () => ctx.embedder.embed(inputs));
    return images.map((bytes, i) => ({ bytes, vector: vectors[i] }));
  }
  if (face !== undefined && images.length > 1) throw new ApiError('INVALID_PARAMETER', 'face names a face of one image: enrol images with several faces one per request');
  const found = await findFacesAll(ctx, faces, t, images, { keepPixels: face !== undefined && face > 0 });
  const what = (i: number) => (images.length > 1 ? `image ${i + 1}` : 'the image');
  return t.stage('embed', () => Promise.all(found.map((f, i) => enrolFace(faces, f, images[i], face, what(i)))));
}

const identityParam = z.object({
  identity: z.string().openapi({ description: 'Identity name (1..200 characters, no control characters, no empty, "." or ".." segments in any spelling; "/" allowed)', example: 'alice' }),
});

/** The identity takes the rest of the path, slashes included. */
const IDENTITY_PATH = '{identity{[\\s\\S]+}}';

function checkIdentity(identity: string): string {
  try {
    validateIdentity(identity);
    return identity;
  } catch (error) {
    if (isIndexError(error, 'BAD_ARGUMENT')) throw new ApiError('INVALID_IDENTITY', error.message);
    throw error;
  }
}

/**
 * Identity from the path: Hono decodes percent-escapes; a NUL or control character, or a "." or
 * ".." segment once decoded (`a%2F..%2Fb`), is refused by validateIdentity. Hono keeps a
 * malformed escape (`%FF`, `%ZZ`, a cut UTF-8 sequence) as literal text, which would make `%FF`
 * and `%25FF` one identity: so the raw path must decode as UTF-8.
 */
function identityFrom(c: Context): string {
  const raw = c.req.param('identity');
  if (raw === undefined) throw new ApiError('INVALID_IDENTITY', 'no identity in the path');
  const path = new URL(c.req.url).pathname;
  const route = routePath(c);
  const prefix = route.slice(0, route.indexOf(':identity'));
  const at = path.indexOf(prefix); // -1 when the prefix itself was percent-encoded (`/v1/%67allery/…`)
  try {
    decodeURIComponent(at < 0 ? path : path.slice(at + prefix.length));
  } catch {
    throw new ApiError('INVALID_IDENTITY', 'the identity in the path is not valid percent-encoded UTF-8');
  }
  return checkIdentity(raw);
}

const GALLERY_PREFIXES = ['/v1/gallery/', '/gallery/'];

function decodeUriOrKeep(path: string): string {
  try {
    return decodeURI(path);
  } catch {
    return path;
  }
}

/**
 * Middleware (before every route): a gallery path with a "." or ".." segment as the client sent
 * it — `x/../y`, `a/./b`, `x/%2e%2e/y` — is a 400 INVALID_IDENTITY. URL parsing resolves such
 * segments before routing (`/v1/gallery/x/../y` would enrol `y`, `/v1/gallery/x/..` would reach no
 * route), so the check reads the path the adapter recorded; without one, the URL is all there is.
 * Decoded as Hono routes it (`%67allery` is `gallery`, `%2e` a dot; `%2F` stays inside a segment).
 *
 * @example
 * app.use('*', refuseGalleryDotSegments);
 */
export const refuseGalleryDotSegments: MiddlewareHandler = async (c, next) => {
  const sent = sentPath(c.req.raw);
  if (sent !== undefined) {
    const path = decodeUriOrKeep(sent);
    if (GALLERY_PREFIXES.some((p) => path.startsWith(p)) && hasDotSegment(path)) {
      throw new ApiError('INVALID_IDENTITY', 'the path has a "." or ".." segment: identities cannot contain them, and they are not resolved');
    }
  }
  await next();
};

/** Small in-memory cache of rendered thumbnails, by sha256 (content-addressed, so never stale). */
class ThumbnailCache {
  private readonly map = new Map<string, Buffer>();
  constructor(private readonly max = 512) {}
  clear(): void {
    this.map.clear();
  }
  get(key: string): Buffer | undefined {
    const v = this.map.get(key);
    if (v) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, value: Buffer): void {
    this.map.set(key, value);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }
}

/**
 * @example
 * registerGalleryRoutes(app, ctx);
 */
export function registerGalleryRoutes(app: OpenAPIHono, ctx: ApiContext): void {
  const read = requirePermission('read', ctx.ring);
  const admin = requirePermission('admin', ctx.ring);
  const thumbnails = new ThumbnailCache();

  const list = createRoute({
    method: 'get',
    path: '/v1/gallery',
    summary: 'Identities in the index with their image counts, in byte order, paged',
    ...keyed(read),
    request: { query: GalleryQuerySchema },
    responses: { 200: okJson('One page', GalleryResponseSchema), ...errorResponses },
  });
  serveRoute(
    app,
    list,
    async (c) => {
      const reader = ctx.requireReader();
      const q = c.req.valid('query');
      const page = await reader.identities(q.cursor === undefined || q.cursor === '' ? undefined : decodeGalleryCursor(q.cursor), q.limit ?? 100);
      return c.json({ identities: page.identities, nextCursor: page.next === null ? null : encodeGalleryCursor(page.next) });
    },
    { alias: true },
  );

  const thumbnailRoute = createRoute({
    method: 'get',
    path: '/v1/gallery/images/{label}/thumbnail',
    summary: 'A small PNG of a gallery image, by its sha256 (as search results link it) or its index label',
    ...keyed(read),
    request: { params: z.object({ label: z.string().openapi({ description: 'sha256 of the image bytes (64 hex) or the numeric index label' }) }) },
    responses: {
      200: { description: 'PNG, at most 96x96', content: { 'image/png': { schema: binary } } },
      304: { description: 'Not modified (ETag)' },
      404: okJson('No such image in the index', ErrorSchema),
    },
  });
  serveRoute(
    app,
    thumbnailRoute,
    async (c) => {
      const reader = ctx.requireReader();
      const key = c.req.param('label');
      const entry = await reader.image(key);
      if (!entry) throw new ApiError('IMAGE_NOT_FOUND', `no image ${key} in the index`);
      const etag = `"${entry.sha256}"`;
      const cacheControl = key === entry.sha256 ? 'public, max-age=31536000, immutable' : 'private, max-age=60';
      if (c.req.header('if-none-match') === etag) return c.body(null, 304, { etag, 'cache-control': cacheControl });
      let png = thumbnails.get(entry.sha256);
      if (!png) {
        const bytes = await ctx.store.imageBytes(entry);
        if (!bytes) throw new ApiError('IMAGE_NOT_FOUND', `image ${key} is no longer available (changed or removed since indexing)`);
        const faces = faceSearch(ctx);
        png = (faces ? await faceThumbnail(ctx, faces, bytes) : null) ?? (await thumbnail(bytes, undefined, ctx.config.maxInputPixels));
        thumbnails.set(entry.sha256, png);
      }
      return c.body(new Uint8Array(png), 200, { 'content-type': 'image/png', etag, 'cache-control': cacheControl });
    },
    { alias: true },
  );

  const enrol = createRoute({
    method: 'post',
    path: `/v1/gallery/${IDENTITY_PATH}`,
    summary: 'Enrol images for an identity (admin): validated, stored durably, searchable at once, kept by re-indexes',
    ...keyed(admin),
    request: {
      params: identityParam,
      query: EnrolOptionsSchema,
      body: {
        required: true,
        content: {
          'multipart/form-data': multipartFiles(['image', 'images'], { many: true, required: [] }),
          'image/*': { schema: binary },
          'application/json': jsonBody(app, 'EnrolJsonBody', EnrolJsonBodySchema),
        },
      },
    },
    responses: {
      201: okJson('Enrolled', EnrolResponseSchema),
      403: okJson('Not an admin key', ErrorSchema),
      ...errorResponses,
    },
  });
  serveRoute(
    app,
    enrol,
    async (c) => {
      const identity = identityFrom(c);
      const { t, body } = await beginImageRequest(c, ctx, ctx.config.maxEnrolImages, { needsIndex: true });
      const json = body.kind === 'json' ? validate(EnrolJsonBodySchema, body.json, 'body', 'INVALID_BODY') : undefined;
      const images = await bodyImages(ctx, body, {
        fields: ['image', 'images'],
        fromJson: () => [...(json?.image !== undefined ? [json.image] : []), ...(json?.images ?? [])],
        max: ctx.config.maxEnrolImages,
      });
      const { face } = validate(EnrolOptionsSchema, { face: json?.face ?? (body.kind === 'form' ? formFields(body.form, ['face']).face : undefined) ?? c.req.query('face') }, 'options');
      // Every image is decoded and embedded before anything is stored: one bad image fails the whole request.
      const items = await enrolItems(ctx, t, images, face);
      const result = await ctx.store.enrol(identity, items);
      ctx.log.info({ identity, added: result.added, duplicates: result.duplicates }, 'enrolled');
      const version = ctx.store.reader()?.generation ?? '';
      return c.json({ identity, added: result.added, duplicates: result.duplicates, images: result.images, sha256: [...new Set(result.entries.map((e) => e.sha256))], index: { version } }, 201);
    },
    { alias: true },
  );

  const remove = createRoute({
    method: 'delete',
    path: `/v1/gallery/${IDENTITY_PATH}`,
    summary: 'Delete an identity (admin): removed from search at once and durably (folder images are tombstoned)',
    ...keyed(admin),
    request: { params: identityParam },
    responses: {
      200: okJson('Deleted', DeleteResponseSchema),
      403: okJson('Not an admin key', ErrorSchema),
      404: okJson('Unknown identity', ErrorSchema),
      ...errorResponses,
    },
  });
  serveRoute(
    app,
    remove,
    async (c) => {
      const identity = identityFrom(c);
      ctx.requireReader();
      const removed = await ctx.store.deleteIdentity(identity);
      if (removed === 0) throw new ApiError('UNKNOWN_IDENTITY', `identity ${JSON.stringify(identity)} has no images`);
      // Rendered thumbnails may show the deleted faces: drop them all (they are cheap to redraw).
      thumbnails.clear();
      ctx.log.info({ identity, removed }, 'identity deleted');
      return c.json({ identity, removed, index: { version: ctx.store.reader()?.generation ?? '' } });
    },
    { alias: true },
  );
}

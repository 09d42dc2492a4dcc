/**
 * Gallery routes: enrol (admin), delete (admin), list identities (paged), image thumbnails.
 * Identity names may contain `/` (e.g. `Latin/character03`): send them percent-encoded or as
 * extra path segments.
 */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { isIndexError } from '../../index/errors.js';
import { validateIdentity } from '../../index/store.js';
import { requirePermission } from '../auth/index.js';
import type { ApiContext } from '../context.js';
import { ApiError } from '../errors/index.js';
import { thumbnail } from '../images/index.js';
import { DeleteResponseSchema, EnrolJsonBodySchema, EnrolOptionsSchema, EnrolResponseSchema, ErrorSchema, GalleryQuerySchema, GalleryResponseSchema, validate, z } from '../schemas/index.js';
import { enrolFace, faceSearch, faceThumbnail, findFacesAll } from './faces.js';
import { bodyImages, decodeAll, formFields, readBody, timer, type Timer } from './pipeline.js';
import { errorResponses } from './search.js';

const security = [{ bearer: [] }];

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
const identityParam = z.object({ identity: z.string().openapi({ description: 'Identity name (1..200 characters, no control characters, no empty, "." or ".." segments; "/" allowed)', example: 'alice' }) });

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
 * Identity from the path: Hono decodes percent-escapes; a NUL or control character is refused by validateIdentity.
 * Hono keeps a malformed escape (`%FF`, `%ZZ`, a cut UTF-8 sequence) as literal text, which would make
 * `%FF` and `%25FF` one identity: so the raw path must decode as UTF-8.
 */
function identityFrom(raw: string | undefined, url: string): string {
  if (raw === undefined) throw new ApiError('INVALID_IDENTITY', 'no identity in the path');
  const path = new URL(url).pathname;
  try {
    decodeURIComponent(path.slice(path.indexOf('/v1/gallery/') + '/v1/gallery/'.length));
  } catch {
    throw new ApiError('INVALID_IDENTITY', 'the identity in the path is not valid percent-encoded UTF-8');
  }
  return checkIdentity(raw);
}

const encodeCursor = (identity: string): string => Buffer.from(identity, 'utf8').toString('base64url');
function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new ApiError('INVALID_PARAMETER', 'cursor is not a cursor this API returned');
  return Buffer.from(cursor, 'base64url').toString('utf8');
}

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

  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'get',
      path: '/v1/gallery',
      summary: 'Identities in the index with their image counts, in byte order, paged',
      security,
      request: { query: GalleryQuerySchema },
      responses: { 200: { description: 'One page', content: { 'application/json': { schema: GalleryResponseSchema } } }, ...errorResponses },
    }),
  );
  app.get('/v1/gallery', read, async (c) => {
    const reader = ctx.requireReader();
    const q = validate(GalleryQuerySchema, c.req.query(), 'query');
    const page = await reader.identities(decodeCursor(q.cursor), q.limit ?? 100);
    return c.json({ identities: page.identities, nextCursor: page.next === null ? null : encodeCursor(page.next) });
  });

  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'get',
      path: '/v1/gallery/images/{label}/thumbnail',
      summary: 'A small PNG of a gallery image, by its sha256 (as search results link it) or its index label',
      security,
      request: { params: z.object({ label: z.string().openapi({ description: 'sha256 of the image bytes (64 hex) or the numeric index label' }) }) },
      responses: {
        200: { description: 'PNG, at most 96x96', content: { 'image/png': { schema: z.string().openapi({ format: 'binary' }) } } },
        304: { description: 'Not modified (ETag)' },
        404: { description: 'No such image in the index', content: { 'application/json': { schema: ErrorSchema } } },
      },
    }),
  );
  app.get('/v1/gallery/images/:label/thumbnail', read, async (c) => {
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
  });

  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'post',
      path: '/v1/gallery/{identity}',
      summary: 'Enrol images for an identity (admin): validated, stored durably, searchable at once, kept by re-indexes',
      security,
      request: {
        params: identityParam,
        query: EnrolOptionsSchema,
        body: {
          required: true,
          content: {
            'multipart/form-data': { schema: z.object({ image: z.array(z.string().openapi({ format: 'binary' })) }) },
            'image/*': { schema: z.string().openapi({ format: 'binary' }) },
            'application/json': { schema: EnrolJsonBodySchema },
          },
        },
      },
      responses: {
        201: { description: 'Enrolled', content: { 'application/json': { schema: EnrolResponseSchema } } },
        403: { description: 'Not an admin key', content: { 'application/json': { schema: ErrorSchema } } },
        ...errorResponses,
      },
    }),
  );
  app.post('/v1/gallery/:identity{[\\s\\S]+}', admin, async (c) => {
    const identity = identityFrom(c.req.param('identity'), c.req.url);
    ctx.requireReader();
    const t = timer(ctx);
    const body = await readBody(c, ctx, ctx.config.maxEnrolImages);
    const json = body.kind === 'json' ? validate(EnrolJsonBodySchema, body.json, 'body', 'INVALID_BODY') : undefined;
    const images = await bodyImages(ctx, body, {
      fields: ['image', 'images'],
      fromJson: () => [...(json?.image !== undefined ? [json.image] : []), ...(json?.images ?? [])],
      max: ctx.config.maxEnrolImages,
    });
    const query = c.req.query();
    const { face } = validate(EnrolOptionsSchema, { face: json?.face ?? (body.kind === 'form' ? formFields(body.form, ['face']).face : undefined) ?? query.face }, 'options');
    // Every image is decoded and embedded before anything is stored: one bad image fails the whole request.
    const items = await enrolItems(ctx, t, images, face);
    const result = await ctx.store.enrol(identity, items);
    ctx.log.info({ identity, added: result.added, duplicates: result.duplicates }, 'enrolled');
    const version = ctx.store.reader()?.generation ?? '';
    return c.json({ identity, added: result.added, duplicates: result.duplicates, images: result.images, sha256: [...new Set(result.entries.map((e) => e.sha256))], index: { version } }, 201);
  });

  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'delete',
      path: '/v1/gallery/{identity}',
      summary: 'Delete an identity (admin): removed from search at once and durably (folder images are tombstoned)',
      security,
      request: { params: identityParam },
      responses: {
        200: { description: 'Deleted', content: { 'application/json': { schema: DeleteResponseSchema } } },
        403: { description: 'Not an admin key', content: { 'application/json': { schema: ErrorSchema } } },
        404: { description: 'Unknown identity', content: { 'application/json': { schema: ErrorSchema } } },
        ...errorResponses,
      },
    }),
  );
  app.delete('/v1/gallery/:identity{[\\s\\S]+}', admin, async (c) => {
    const identity = identityFrom(c.req.param('identity'), c.req.url);
    ctx.requireReader();
    const removed = await ctx.store.deleteIdentity(identity);
    if (removed === 0) throw new ApiError('UNKNOWN_IDENTITY', `identity ${JSON.stringify(identity)} has no images`);
    // Rendered thumbnails may show the deleted faces: drop them all (they are cheap to redraw).
    thumbnails.clear();
    ctx.log.info({ identity, removed }, 'identity deleted');
    return c.json({ identity, removed, index: { version: ctx.store.reader()?.generation ?? '' } });
  });
}

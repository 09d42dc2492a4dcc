/**
 * Image routes: `POST /v1/search`, `/v1/search/batch`, `/v1/verify`, `/v1/embed`. Thin: read the
 * body, decode, embed, search or compare, answer. All need a read key.
 */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { distance } from '../../model/embed.js';
import { requirePermission } from '../auth/index.js';
import type { ApiContext } from '../context.js';
import { ApiError } from '../errors/index.js';
import {
  EmbedJsonBodySchema,
  EmbedResponseSchema,
  ErrorSchema,
  SearchBatchBodySchema,
  SearchBatchResponseSchema,
  SearchJsonBodySchema,
  SearchOptionsSchema,
  SearchResponseSchema,
  validate,
  VerifyJsonBodySchema,
  VerifyOptionsSchema,
  VerifyResponseSchema,
  z,
} from '../schemas/index.js';
import { requestThreshold, round, searchResult, similarity } from '../search/index.js';
import { faceOut, faceSearch, findFacesAll, findFacesEach, largestFace } from './faces.js';
import { bodyImages, decodeAll, decodeEach, formFields, jsonWithTiming, now, readBody, timer, timings, type Timer } from './pipeline.js';

const imageBody = (json: z.ZodType, description: string) => ({
  description,
  required: true,
  content: {
    'multipart/form-data': { schema: z.object({ image: z.string().openapi({ format: 'binary' }) }) },
    'image/*': { schema: z.string().openapi({ format: 'binary', description: 'The raw image; its format is detected from the bytes' }) },
    'application/json': { schema: json },
  },
});

export const errorResponses = {
  400: { description: 'Bad parameters, body or base64', content: { 'application/json': { schema: ErrorSchema } } },
  401: { description: 'No or invalid API key', content: { 'application/json': { schema: ErrorSchema } } },
  413: { description: 'Body, image or pixel count over the limit', content: { 'application/json': { schema: ErrorSchema } } },
  415: { description: 'Not an accepted image format, or undecodable', content: { 'application/json': { schema: ErrorSchema } } },
  422: { description: 'A valid image that cannot be used: too small (IMAGE_TOO_SMALL); face models: no face in it (NO_FACE), or several in an image to enrol (MULTIPLE_FACES)', content: { 'application/json': { schema: ErrorSchema } } },
  503: { description: 'Model or index not loaded', content: { 'application/json': { schema: ErrorSchema } } },
};

const security = [{ bearer: [] }];

const space = (ctx: ApiContext) => ({ metric: ctx.card.metric, normalized: ctx.normalized });

type Embedded = { ok: true; vector: Float32Array; face?: { face: ReturnType<typeof faceOut> } } | { ok: false; error: ApiError };

/** One vector per image (a face model: its largest face, or NO_FACE), failures per image. */
async function embedEach(ctx: ApiContext, t: Timer, images: readonly Uint8Array[], names?: readonly string[]): Promise<Embedded[]> {
  const faces = faceSearch(ctx);
  if (faces) {
    const found = await findFacesEach(ctx, faces, t, images);
    return found.map((f, i) => {
      if (!f.ok) return f;
      try {
        const face = largestFace(f.faces, names?.[i] ?? (images.length > 1 ? `image ${i + 1}` : 'the image'));
        return { ok: true, vector: face.vector, face: { face: faceOut(face) } };
      } catch (error) {
        return { ok: false, error: error as ApiError };
      }
    });
  }
  const decoded = await t.stage('decode', () => decodeEach(ctx, images));
  const inputs = decoded.flatMap((d) => (d.ok ? [d.input] : []));
  const vectors = await t.stage('embed', () => ctx.embedder.embed(inputs));
  let next = 0;
  return decoded.map((d) => (d.ok ? { ok: true, vector: vectors[next++] } : d));
}

/** As embedEach, throwing the first failure. */
async function embedAll(ctx: ApiContext, t: Timer, images: readonly Uint8Array[], names: readonly string[]) {
  const embedded = await embedEach(ctx, t, images, names);
  const failed = embedded.find((e) => !e.ok);
  if (failed && !failed.ok) throw failed.error;
  return embedded as Extract<Embedded, { ok: true }>[];
}

/** The search options from the query string merged with those in the body (body wins). */
function searchOptions(ctx: ApiContext, query: Record<string, string>, fromBody: Record<string, unknown>) {
  const merged = { ...query, ...Object.fromEntries(Object.entries(fromBody).filter(([, v]) => v !== undefined)) };
  const options = validate(SearchOptionsSchema, { k: merged.k, threshold: merged.threshold, level: merged.level, faces: merged.faces }, 'options');
  if (options.faces !== undefined && !faceSearch(ctx)) throw new ApiError('INVALID_PARAMETER', 'faces applies to face models only; this model embeds whole images');
  return { k: options.k ?? ctx.config.defaultK, threshold: options.threshold, level: options.level ?? 'identity', faces: options.faces ?? 'largest' };
}

/**
 * @example
 * registerSearchRoutes(app, ctx);
 */
export function registerSearchRoutes(app: OpenAPIHono, ctx: ApiContext): void {
  const read = requirePermission('read', ctx.ring);

  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'post',
      path: '/v1/search',
      summary: 'Who is in this image? The nearest gallery identities (or images) and a match / unknown decision',
      security,
      request: { query: SearchOptionsSchema, body: imageBody(SearchJsonBodySchema, 'The image: multipart field `image`, a raw body, or JSON with base64') },
      responses: { 200: { description: 'Matches and decision', content: { 'application/json': { schema: SearchResponseSchema } } }, ...errorResponses },
    }),
  );
  app.post('/v1/search', read, async (c) => {
    const started = now();
    ctx.requireReader();
    const t = timer(ctx);
    const body = await readBody(c, ctx, 1);
    const json = body.kind === 'json' ? validate(SearchJsonBodySchema, body.json, 'body', 'INVALID_BODY') : undefined;
    const options = searchOptions(ctx, c.req.query(), json ?? (body.kind === 'form' ? formFields(body.form, ['k', 'threshold', 'level', 'faces']) : {}));
    const [bytes] = await bodyImages(ctx, body, { fields: ['image'], fromJson: () => [json?.image], max: 1 });
    const faces = faceSearch(ctx);
    if (faces) {
      const [{ faces: found }] = await findFacesAll(ctx, faces, t, [bytes]);
      largestFace(found);
      const searched = options.faces === 'all' ? found : found.slice(0, 1);
      const reader = ctx.requireReader();
      const threshold = requestThreshold(ctx.threshold, options.threshold);
      const results = await t.stage('search', () =>
        Promise.all(searched.map(async (face) => ({ ...searchResult(await reader.search(face.vector, options.k, { level: options.level }), threshold, space(ctx)), face: faceOut(face) }))),
      );
      const all = options.faces === 'all' ? { faces: results } : {};
      return jsonWithTiming(c, ctx, t, { ...results[0], ...all, model: { id: ctx.card.modelId }, index: { version: reader.generation }, timings: timings(t.spent, started) });
    }
    const [input] = await t.stage('decode', () => decodeAll(ctx, [bytes]));
    const [vector] = await t.stage('embed', () => ctx.embedder.embed([input]));
    // One reader for the whole request: a new generation published meanwhile does not affect it.
    const reader = ctx.requireReader();
    const hits = await t.stage('search', () => reader.search(vector, options.k, { level: options.level }));
    const result = searchResult(hits, requestThreshold(ctx.threshold, options.threshold), { metric: ctx.card.metric, normalized: ctx.normalized });
    return jsonWithTiming(c, ctx, t, { ...result, model: { id: ctx.card.modelId }, index: { version: reader.generation }, timings: timings(t.spent, started) });
  });

  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'post',
      path: '/v1/search/batch',
      summary: 'Search several images in one request (bounded by MAX_BATCH); one result or error per image',
      security,
      request: { query: SearchOptionsSchema, body: { required: true, content: { 'application/json': { schema: SearchBatchBodySchema } } } },
      responses: { 200: { description: 'One result per image, in order', content: { 'application/json': { schema: SearchBatchResponseSchema } } }, ...errorResponses },
    }),
  );
  app.post('/v1/search/batch', read, async (c) => {
    const started = now();
    ctx.requireReader();
    const t = timer(ctx);
    const body = await readBody(c, ctx, ctx.config.maxBatch);
    if (body.kind !== 'json') throw new ApiError('INVALID_BODY', 'send JSON { "images": ["<base64>", …] }');
    const json = validate(SearchBatchBodySchema, body.json, 'body', 'INVALID_BODY');
    const options = searchOptions(ctx, c.req.query(), json);
    if (options.faces === 'all') throw new ApiError('INVALID_PARAMETER', 'faces=all is for /v1/search; the batch searches the largest face of each image');
    const images = await bodyImages(ctx, body, { fields: [], fromJson: () => json.images, max: ctx.config.maxBatch });
    const embedded = await embedEach(ctx, t, images);
    const reader = ctx.requireReader();
    const threshold = requestThreshold(ctx.threshold, options.threshold);
    const results = await t.stage('search', () =>
      Promise.all(embedded.map(async (d) => {
        if (!d.ok) return { error: { code: d.error.code, message: d.error.message } };
        const s = now();
        const hits = await reader.search(d.vector, options.k, { level: options.level });
        const searchMs = round(now() - s, 3);
        return { ...searchResult(hits, threshold, space(ctx)), ...d.face, timings: { decodeMs: 0, embedMs: 0, searchMs, totalMs: searchMs } };
      })),
    );
    return jsonWithTiming(c, ctx, t, { results, model: { id: ctx.card.modelId }, index: { version: reader.generation }, timings: timings(t.spent, started) });
  });

  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'post',
      path: '/v1/verify',
      summary: 'Are these two images of the same identity? Distance, similarity and decision',
      security,
      request: {
        query: VerifyOptionsSchema,
        body: {
          required: true,
          content: {
            'multipart/form-data': { schema: z.object({ image_a: z.string().openapi({ format: 'binary' }), image_b: z.string().openapi({ format: 'binary' }) }) },
            'application/json': { schema: VerifyJsonBodySchema },
          },
        },
      },
      responses: { 200: { description: 'Comparison', content: { 'application/json': { schema: VerifyResponseSchema } } }, ...errorResponses },
    }),
  );
  app.post('/v1/verify', read, async (c) => {
    const started = now();
    const t = timer(ctx);
    const body = await readBody(c, ctx, 2);
    let pair: Uint8Array[];
    let fromBody: Record<string, unknown> = {};
    if (body.kind === 'json') {
      const json = validate(VerifyJsonBodySchema, body.json, 'body', 'INVALID_BODY');
      fromBody = { threshold: json.threshold };
      pair = await bodyImages(ctx, body, { fields: [], fromJson: () => [json.imageA, json.imageB], max: 2 });
    } else if (body.kind === 'form') {
      fromBody = formFields(body.form, ['threshold']);
      const a = await bodyImages(ctx, body, { fields: ['image_a'], fromJson: () => [], max: 1, what: 'multipart fields "image_a" and "image_b"' });
      const b = await bodyImages(ctx, body, { fields: ['image_b'], fromJson: () => [], max: 1, what: 'multipart fields "image_a" and "image_b"' });
      pair = [a[0], b[0]];
    } else {
      throw new ApiError('INVALID_BODY', 'send multipart fields "image_a" and "image_b", or JSON { "imageA", "imageB" } (base64)');
    }
    const merged = { ...c.req.query(), ...Object.fromEntries(Object.entries(fromBody).filter(([, v]) => v !== undefined)) };
    const options = validate(VerifyOptionsSchema, { threshold: merged.threshold }, 'options');
    const [a, b] = await embedAll(ctx, t, pair, ['image A', 'image B']);
    const d = distance(ctx.card.metric, a.vector, b.vector);
    const threshold = requestThreshold(ctx.threshold, options.threshold);
    return jsonWithTiming(c, ctx, t, {
      same: d <= threshold.value,
      distance: round(d),
      similarity: round(similarity(ctx.card.metric, ctx.normalized, d)),
      threshold,
      ...(a.face && b.face ? { faces: [a.face.face, b.face.face] } : {}),
      model: { id: ctx.card.modelId },
      timings: timings(t.spent, started),
    });
  });

  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'post',
      path: '/v1/embed',
      summary: "The image's embedding vector (as stored in the index)",
      security,
      request: { body: imageBody(EmbedJsonBodySchema, 'The image: multipart field `image`, a raw body, or JSON with base64') },
      responses: { 200: { description: 'The vector', content: { 'application/json': { schema: EmbedResponseSchema } } }, ...errorResponses },
    }),
  );
  app.post('/v1/embed', read, async (c) => {
    const started = now();
    const t = timer(ctx);
    const body = await readBody(c, ctx, 1);
    const json = body.kind === 'json' ? validate(EmbedJsonBodySchema, body.json, 'body', 'INVALID_BODY') : undefined;
    const images = await bodyImages(ctx, body, { fields: ['image'], fromJson: () => [json?.image], max: 1 });
    const [{ vector, face }] = await embedAll(ctx, t, images, ['the image']);
    return jsonWithTiming(c, ctx, t, {
      vector: Array.from(vector),
      dim: vector.length,
      normalized: ctx.normalized,
      metric: ctx.card.metric,
      ...face,
      model: { id: ctx.card.modelId },
      timings: timings(t.spent, started),
    });
  });
}

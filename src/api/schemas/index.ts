/**
 * Request and response schemas (zod). Handlers validate inputs with them, tests validate
 * responses with them, and the same schemas generate `GET /openapi.json`.
 */
import { z } from '@hono/zod-openapi';
import { MAX_K, MAX_THRESHOLD } from '../config/index.js';
import { ApiError } from '../errors/index.js';

export { z };

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'UNSUPPORTED_IMAGE', description: 'Stable, machine-readable code (see docs/api.md)' }),
      message: z.string().openapi({ example: 'SVG and other markup are not accepted: send JPEG, PNG, WebP, GIF, TIFF or AVIF' }),
    }),
  })
  .openapi('Error');

const k = z.coerce.number().int().min(1).max(MAX_K).openapi({ description: `Number of matches to return (1..${MAX_K}); default from config (DEFAULT_K)`, example: 5 });
const threshold = z.coerce
  .number()
  .gt(0)
  .max(MAX_THRESHOLD)
  .openapi({ description: `Match threshold on the distance (0 < t <= ${MAX_THRESHOLD}); default: the model's calibrated threshold`, example: 0.47 });
const level = z.enum(['identity', 'image']).openapi({ description: '`identity` (default): the k nearest identities, each with its best image; `image`: the k nearest images' });

const faces = z.enum(['largest', 'all']).openapi({
  description: 'Face models only: `largest` (default) searches the largest face of the image; `all` searches every face and lists each, with its box, in `faces` (the top-level answer stays the largest face\'s)',
});

export const SearchOptionsSchema = z.object({ k: k.optional(), threshold: threshold.optional(), level: level.optional(), faces: faces.optional() });
export type SearchOptionsInput = z.infer<typeof SearchOptionsSchema>;

export const VerifyOptionsSchema = z.object({ threshold: threshold.optional() });

const base64Image = z.string().min(1).openapi({ description: 'Image bytes, base64 (standard or URL-safe; a data: URL prefix is accepted)', format: 'byte' });

export const SearchJsonBodySchema = SearchOptionsSchema.extend({ image: base64Image }).openapi('SearchJsonBody');
// Batch entries are checked one by one (an empty or bad string fails only its own result), so any string is accepted here.
const batchImage = z.string().openapi({ description: 'Image bytes, base64 (as for `image`); an empty or invalid entry gets its own error result', format: 'byte' });
export const SearchBatchBodySchema = SearchOptionsSchema.extend({ images: z.array(batchImage).min(1) }).openapi('SearchBatchBody');
export const VerifyJsonBodySchema = VerifyOptionsSchema.extend({ imageA: base64Image, imageB: base64Image }).openapi('VerifyJsonBody');
export const EmbedJsonBodySchema = z.object({ image: base64Image }).openapi('EmbedJsonBody');
const faceIndex = z.coerce
  .number()
  .int()
  .min(0)
  .openapi({ description: 'Face models only: which face of the (one) image to enrol, 0 = the largest, as `faces` of /v1/search?faces=all lists them. Needed when the image holds several faces', example: 0 });

export const EnrolOptionsSchema = z.object({ face: faceIndex.optional() });

export const EnrolJsonBodySchema = z
  .object({ image: base64Image.optional(), images: z.array(base64Image).optional(), face: faceIndex.optional() })
  .refine((b) => b.image !== undefined || (b.images?.length ?? 0) > 0, { message: 'give "image" or a non-empty "images" array' })
  .openapi('EnrolJsonBody');

export const OpenSetSchema = z
  .object({
    threshold: z.number(),
    fpir: z.number().openapi({ description: 'False-positive identification rate measured at the threshold: the share of stranger images (held-out identities) matched to someone' }),
    tir: z.number().openapi({ description: 'True identification rate measured at the threshold: the share of photos of known people matched to the right identity' }),
    targetFpir: z.number(),
    galleryIdentities: z.number().int().openapi({ description: 'Identities in the gallery each stranger was searched in' }),
    knownProbes: z.number().int(),
    strangers: z.number().int().openapi({ description: 'Stranger images the FPIR was measured on' }),
    strangerIdentities: z.number().int(),
    warning: z.string().optional().openapi({ description: 'Present when the calibration data are too few for these rates to hold for other people' }),
  })
  .openapi('OpenSetCalibration');

export const ThresholdSchema = z
  .object({
    value: z.number().openapi({ description: 'Distances <= value are a match' }),
    source: z.enum(['calibrated', 'request']),
    far: z.number().nullable().openapi({ description: 'False accept rate measured at this threshold on held-out identities (calibrated thresholds only)' }),
    tar: z.number().nullable().openapi({ description: 'True accept rate measured at this threshold (calibrated thresholds only)' }),
    openSet: OpenSetSchema.optional().openapi({ description: "Present when the value is the model's open-set threshold (the default of models that have one)" }),
  })
  .openapi('Threshold');

export const TimingsSchema = z
  .object({ decodeMs: z.number(), embedMs: z.number(), searchMs: z.number(), totalMs: z.number() })
  .openapi('Timings', { description: 'Server-side milliseconds: decode (format check, sharp, preprocessing), embed (queue + forward pass), search (HNSW), total (handler)' });

export const MatchSchema = z
  .object({
    identity: z.string(),
    distance: z.number().openapi({ description: "In the model's metric (card.metric): Euclidean for l2, 1 - cos for cosine" }),
    similarity: z.number().openapi({ description: 'Cosine similarity of the embeddings: 1 - d^2/2 for l2 on unit vectors, 1 - d for cosine; 1 / (1 + d) for unnormalised l2 models' }),
    match: z.boolean().openapi({ description: 'distance <= threshold' }),
    image: z.object({
      label: z.number().int().openapi({ description: 'Index label of the image' }),
      sha256: z.string(),
      source: z.string().openapi({ description: 'Gallery path (folder images) or `<identity>/<sha256>` (enrolled)' }),
      origin: z.enum(['folder', 'enrolment']),
      thumbnail: z.string().openapi({ example: '/v1/gallery/images/3f1c…/thumbnail' }),
    }),
  })
  .openapi('Match');

export const DecisionSchema = z
  .object({
    identity: z.string().openapi({ description: 'The nearest identity when it matches, else "unknown"' }),
    match: z.boolean(),
    distance: z.number().nullable().openapi({ description: 'Distance of the nearest image (null: empty gallery)' }),
  })
  .openapi('Decision');

export const FaceSchema = z
  .object({
    box: z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() }).openapi({ description: "The detector's box in the image's pixels (after EXIF orientation), clipped to the image" }),
    score: z.number().openapi({ description: "The detector's score (0..1)" }),
  })
  .openapi('Face', { description: 'Face models only: the face that was searched' });

const modelRef = z.object({ id: z.string() });
const indexRef = z.object({ version: z.string() });

export const SearchResultSchema = z.object({
  decision: DecisionSchema,
  matches: z.array(MatchSchema),
  threshold: ThresholdSchema,
});

export const SearchResponseSchema = SearchResultSchema.extend({
  face: FaceSchema.optional(),
  faces: z.array(SearchResultSchema.extend({ face: FaceSchema })).optional().openapi({ description: 'With faces=all: every face, largest first, each with its own matches and decision' }),
  model: modelRef,
  index: indexRef,
  timings: TimingsSchema,
}).openapi('SearchResponse');

export const SearchBatchResponseSchema = z
  .object({
    results: z.array(z.union([SearchResultSchema.extend({ face: FaceSchema.optional(), timings: TimingsSchema }), ErrorSchema])),
    model: modelRef,
    index: indexRef,
    timings: TimingsSchema,
  })
  .openapi('SearchBatchResponse');

export const VerifyResponseSchema = z
  .object({
    same: z.boolean(),
    distance: z.number(),
    similarity: z.number(),
    threshold: ThresholdSchema,
    faces: z.array(FaceSchema).optional().openapi({ description: 'Face models only: the face compared in image A and in image B (the largest of each)' }),
    model: modelRef,
    timings: TimingsSchema,
  })
  .openapi('VerifyResponse');

export const EmbedResponseSchema = z
  .object({
    vector: z.array(z.number()),
    dim: z.number().int(),
    normalized: z.boolean().openapi({ description: 'The vector is L2-normalised (as stored in the index)' }),
    metric: z.enum(['l2', 'cosine']),
    face: FaceSchema.optional(),
    model: modelRef,
    timings: TimingsSchema,
  })
  .openapi('EmbedResponse');

export const EnrolResponseSchema = z
  .object({
    identity: z.string(),
    added: z.number().int().openapi({ description: 'Images added to the index' }),
    duplicates: z.number().int().openapi({ description: 'Images already enrolled for this identity (same bytes), not added again' }),
    images: z.number().int().openapi({ description: 'Images the identity now has' }),
    sha256: z.array(z.string()),
    index: indexRef,
  })
  .openapi('EnrolResponse');

export const DeleteResponseSchema = z.object({ identity: z.string(), removed: z.number().int(), index: indexRef }).openapi('DeleteResponse');

export const GalleryQuerySchema = z.object({
  cursor: z.string().max(2048).optional().openapi({ description: 'nextCursor of the previous page, as returned (anything else is a 400)' }),
  limit: z.coerce.number().int().min(1).max(1000).optional().openapi({ description: 'Identities per page (1..1000, default 100)' }),
});

export const GalleryResponseSchema = z
  .object({
    identities: z.array(z.object({ identity: z.string(), images: z.number().int() })),
    nextCursor: z.string().nullable(),
  })
  .openapi('GalleryPage');

export const IndexInfoSchema = z
  .object({
    version: z.string(),
    createdAt: z.string(),
    images: z.number().int(),
    identities: z.number().int(),
    deleted: z.number().int(),
    liveAdded: z.number().int(),
    liveDeleted: z.number().int(),
    journalSeq: z.number().int(),
    engine: z.string().openapi({ description: 'Where the vectors live: `hnswlib` (local snapshots) or `pgvector`' }),
    capabilities: z
      .object({ readYourWrites: z.boolean(), sharedWrites: z.boolean(), ef: z.boolean(), exact: z.boolean() })
      .openapi({ description: 'What the store promises (writes seen by this instance, by every instance) and offers (per-query ef, exact search)' }),
    params: z.object({ M: z.number().int(), efConstruction: z.number().int(), ef: z.number().int(), dim: z.number().int(), metric: z.enum(['l2', 'cosine']), normalized: z.boolean() }),
    build: z.object({ mode: z.string(), reason: z.string(), seconds: z.number() }),
    model: z.object({
      id: z.string(),
      weightsHash: z.string(),
      /** What the tower takes: a PNG of exactly this size is decoded without sharp (the fastest query). */
      input: z.object({ width: z.number().int(), height: z.number().int(), channels: z.number().int() }),
      threshold: ThresholdSchema.openapi({ description: 'The threshold searches decide with when a request gives none, and how it was calibrated' }),
    }),
    reload: z.object({
      loadedAt: z.string().nullable(),
      lastCheckAt: z.string().nullable(),
      swaps: z.number().int(),
      failures: z.number().int(),
      refused: z.object({ version: z.string(), code: z.string(), message: z.string(), at: z.string() }).nullable(),
    }),
  })
  .openapi('IndexInfo');

export const HealthSchema = z.object({ status: z.literal('ok') }).openapi('Health');
export const ReadySchema = z
  .object({
    status: z.enum(['ready', 'degraded', 'not-ready']).openapi({ description: '`degraded`: serving, but the newest snapshot was refused' }),
    model: z.object({ id: z.string(), loaded: z.boolean() }),
    index: z.object({ version: z.string().nullable(), loaded: z.boolean(), refused: z.object({ version: z.string(), code: z.string(), message: z.string(), at: z.string() }).nullable() }),
    problem: z
      .object({
        code: z.enum(['NO_INDEX', 'OTHER_MODEL', 'REFUSED']),
        message: z.string(),
        fix: z.string().optional().openapi({ description: 'The command that fixes it' }),
      })
      .nullable()
      .openapi({ description: '`NO_INDEX`: none built yet; `OTHER_MODEL`: the index belongs to another model; `REFUSED`: the newest snapshot failed verification' }),
  })
  .openapi('Ready');

const OPTION_KEYS = new Set(['k', 'threshold', 'level', 'limit', 'cursor', 'faces', 'face']);

/**
 * The 400 for a failed parse, naming the bad fields (pure). Options (k, threshold, level, limit,
 * cursor) are INVALID_PARAMETER wherever they come from, a JSON body included.
 *
 * @example
 * validationError(SearchOptionsSchema.safeParse({ k: 0 }).error!, 'query').code // 'INVALID_PARAMETER'
 */
export function validationError(error: z.ZodError, where: string, code: 'INVALID_PARAMETER' | 'INVALID_BODY' = 'INVALID_PARAMETER'): ApiError {
  const details = error.issues.map((i) => `${i.path.map(String).join('.') || where}: ${i.message}`).join('; ');
  const onlyOptions = error.issues.every((i) => i.path.length > 0 && OPTION_KEYS.has(String(i.path[0])));
  return new ApiError(onlyOptions ? 'INVALID_PARAMETER' : code, `invalid ${where}: ${details}`);
}

/**
 * Parses with `schema`, turning a failure into a 400 naming the bad fields.
 *
 * @example
 * const { k } = validate(SearchOptionsSchema, c.req.query(), 'query');
 */
export function validate<T extends z.ZodType>(schema: T, value: unknown, where: string, code: 'INVALID_PARAMETER' | 'INVALID_BODY' = 'INVALID_PARAMETER'): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw validationError(result.error, where, code);
}

/** What a gallery cursor carries: the last identity of the previous page, in a versioned envelope. */
const CursorSchema = z.strictObject({ v: z.literal(1), after: z.string().min(1) });

/**
 * The `nextCursor` for a page that ended at `after`: base64url of `{"v":1,"after":…}`, so a
 * cursor can be checked on its way back.
 *
 * @example
 * encodeGalleryCursor('id002') // 'eyJ2IjoxLCJhZnRlciI6ImlkMDAyIn0'
 */
export function encodeGalleryCursor(after: string): string {
  return Buffer.from(JSON.stringify({ v: 1, after }), 'utf8').toString('base64url');
}

/**
 * The identity a cursor continues after; a 400 INVALID_PARAMETER for anything this API did not
 * return (random text, another encoding of the same bytes, an unknown version).
 *
 * @example
 * decodeGalleryCursor(encodeGalleryCursor('id002')) // 'id002'
 * decodeGalleryCursor('zzz') // throws ApiError INVALID_PARAMETER
 */
export function decodeGalleryCursor(cursor: string): string {
  const refuse = (): never => {
    throw new ApiError('INVALID_PARAMETER', 'cursor is not a cursor this API returned: pass nextCursor back as it came');
  };
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) refuse();
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(cursor, 'base64url')));
  } catch {
    return refuse();
  }
  const parsed = CursorSchema.safeParse(payload);
  // Re-encoding must give the same text: base64url has several spellings of some byte strings.
  if (!parsed.success || encodeGalleryCursor(parsed.data.after) !== cursor) return refuse();
  return parsed.data.after;
}

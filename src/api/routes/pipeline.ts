/**
 * The steps every image route shares: images out of the body (multipart, raw, base64 JSON),
 * decode with timing, embed with timing, and a JSON response with Server-Timing.
 */
import type { Context } from 'hono';
import { checkImageBytes, decodeBase64, formFiles, parseBody, requestLimit, type ParsedBody } from '../body/index.js';
import type { ApiContext } from '../context.js';
import { ApiError, toApiError } from '../errors/index.js';
import { decodeImageForModel } from '../images/index.js';
import type { Stage } from '../metrics/index.js';
import { round } from '../search/index.js';

export const now = (): number => performance.now();
export const ms = (from: number, to = now()): number => round(to - from, 3);

/**
 * The start every image route shares: the clock, a 503 first when the route needs the index, the
 * stage timer, and the body read with a budget of `images` images.
 *
 * @example
 * const { started, t, body } = await beginImageRequest(c, ctx, 1, { needsIndex: true });
 */
export async function beginImageRequest(c: Context, ctx: ApiContext, images: number, options: { needsIndex: boolean }): Promise<{ started: number; t: Timer; body: ParsedBody }> {
  const started = now();
  if (options.needsIndex) ctx.requireReader();
  const t = timer(ctx);
  return { started, t, body: await readBody(c, ctx, images) };
}

/** Reads and parses the body with a budget of `images` images. */
export function readBody(c: Context, ctx: ApiContext, images: number): Promise<ParsedBody> {
  return parseBody(c.req.raw, requestLimit(images, ctx.config.maxImageBytes, ctx.config.maxRequestBytes));
}

/** Text fields of a multipart form as a plain object (for options sent as form fields). */
export function formFields(form: FormData, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const v = form.get(name);
    if (typeof v === 'string') out[name] = v;
  }
  return out;
}

/**
 * The images of a body: multipart file fields `fields` (first one that is present), a raw
 * body, or base64 strings from JSON (`fromJson`). Checks count and per-image byte size.
 *
 * @example
 * const [bytes] = await bodyImages(ctx, body, { fields: ['image'], fromJson: (j) => [(j as { image: string }).image], max: 1 });
 */
export async function bodyImages(
  ctx: ApiContext,
  body: ParsedBody,
  options: { fields: readonly string[]; fromJson: (json: unknown) => unknown[]; max: number; what?: string },
): Promise<Uint8Array[]> {
  let images: Uint8Array[];
  if (body.kind === 'raw') {
    images = body.raw.byteLength ? [body.raw] : [];
  } else if (body.kind === 'form') {
    images = [];
    for (const field of options.fields) images.push(...(await formFiles(body.form, field)));
  } else {
    images = options.fromJson(body.json).map((v, i, all) => decodeBase64(v, all.length > 1 ? `image ${i + 1}` : 'image'));
  }
  if (images.length === 0) throw new ApiError('MISSING_IMAGE', `no image in the request: send ${options.what ?? `multipart field "${options.fields[0]}", a raw image body or base64 JSON`}`);
  if (images.length > options.max) throw new ApiError('TOO_MANY_IMAGES', `at most ${options.max} images per request, got ${images.length}`);
  return images.map((b, i) => checkImageBytes(b, ctx.config.maxImageBytes, images.length > 1 ? `image ${i + 1}` : 'the image'));
}

export interface Timer {
  stage<T>(stage: Stage, work: () => Promise<T> | T): Promise<T>;
  readonly spent: Record<Stage, number>;
}

/**
 * Accumulates per-stage milliseconds for a request and reports them to the metrics.
 *
 * @example
 * const t = timer(ctx); const [vector] = await t.stage('embed', () => ctx.embedder.embed([input])); t.spent.embed // ms
 */
export function timer(ctx: ApiContext): Timer {
  const spent: Record<Stage, number> = { decode: 0, embed: 0, search: 0, serialise: 0 };
  return {
    spent,
    async stage(stage, work) {
      const t = now();
      try {
        return await work();
      } finally {
        const elapsed = now() - t;
        spent[stage] += elapsed;
        ctx.metrics.observeStage(stage, elapsed / 1000);
      }
    },
  };
}

/** Decodes images in parallel (sharp runs on libuv threads); failures stay per image (an entry that already failed stays failed). */
export async function decodeEach(ctx: ApiContext, images: readonly (Uint8Array | ApiError)[]): Promise<({ ok: true; input: Float32Array } | { ok: false; error: ApiError })[]> {
  return Promise.all(
    images.map(async (bytes) => {
      if (bytes instanceof ApiError) return { ok: false as const, error: bytes };
      try {
        return { ok: true as const, input: (await decodeImageForModel(bytes, ctx.embedder, ctx.limits)).input };
      } catch (error) {
        return { ok: false as const, error: toApiError(error) };
      }
    }),
  );
}

/**
 * Decodes every image or throws the first failure (an ApiError: 413 / 415 / 422).
 *
 * @example
 * const [input] = await t.stage('decode', () => decodeAll(ctx, [bytes]));
 */
export async function decodeAll(ctx: ApiContext, images: readonly Uint8Array[]): Promise<Float32Array[]> {
  const results = await decodeEach(ctx, images);
  const failed = results.find((r) => !r.ok);
  if (failed && !failed.ok) throw failed.error;
  return results.map((r) => (r as { input: Float32Array }).input);
}

export function timings(spent: Record<Stage, number>, started: number): { decodeMs: number; embedMs: number; searchMs: number; totalMs: number } {
  return { decodeMs: round(spent.decode, 3), embedMs: round(spent.embed, 3), searchMs: round(spent.search, 3), totalMs: ms(started) };
}

/**
 * Serialises `body` (timed as the `serialise` stage) and answers with a Server-Timing header.
 *
 * @example
 * return jsonWithTiming(c, ctx, t, { ...result, timings: timings(t.spent, started) });
 */
export function jsonWithTiming(c: Context, ctx: ApiContext, t: Timer, body: unknown, status: 200 | 201 = 200): Response {
  const started = now();
  const text = JSON.stringify(body);
  const elapsed = now() - started;
  t.spent.serialise += elapsed;
  ctx.metrics.observeStage('serialise', elapsed / 1000);
  const header = (['decode', 'embed', 'search', 'serialise'] as const).map((s) => `${s};dur=${round(t.spent[s], 3)}`).join(', ');
  return c.body(text, status, { 'content-type': 'application/json; charset=UTF-8', 'server-timing': header });
}

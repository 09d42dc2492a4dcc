/**
 * Every endpoint through `app.request()` with a tiny real model and a real index: happy paths,
 * every error code, the auth matrix, enrolment and deletion surviving a re-index, and tensor
 * hygiene over 200 requests.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from './runtime.js';
import { GalleryStore } from '../index/store.js';
import { openEmbedder } from '../embedding/index.js';
import { runIndex } from '../index/reindex.js';
import { writeTinyModel } from '../../test/fixtures/gallery.js';
import {
  DeleteResponseSchema,
  EmbedResponseSchema,
  EnrolResponseSchema,
  ErrorSchema,
  GalleryResponseSchema,
  IndexInfoSchema,
  ReadySchema,
  SearchBatchResponseSchema,
  SearchResponseSchema,
  VerifyResponseSchema,
} from './schemas/index.js';
import { ADMIN_KEY, bearer, createFixture, fixtureRuntime, READ_KEY, syntheticPng, writeDemo, type Fixture } from '../../test/fixtures/api.js';

let fx: Fixture;
let rt: Runtime;
const read = bearer(READ_KEY);
const admin = bearer(ADMIN_KEY);

beforeAll(async () => {
  fx = await createFixture({ identities: 4, perIdentity: 3 });
  rt = await fixtureRuntime(fx, { env: { MAX_IMAGE_BYTES: '4096', MAX_INPUT_PIXELS: '10000', MAX_BATCH: '3', MAX_ENROL_IMAGES: '3' } });
});

afterAll(async () => {
  await rt?.close();
  await fx?.cleanup();
});

const post = (path: string, body: BodyInit, headers: Record<string, string> = read) => rt.app.request(path, { method: 'POST', body, headers });
const json = (value: unknown, headers: Record<string, string> = read) => ({ method: 'POST', body: JSON.stringify(value), headers: { ...headers, 'content-type': 'application/json' } });
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const form = (fields: Record<string, Uint8Array | Uint8Array[] | string>): FormData => {
  const f = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v === 'string') f.append(name, v);
      else f.append(name, new Blob([new Uint8Array(v)]), 'upload.bin');
    }
  }
  return f;
};

async function expectError(res: Response, status: number, code: string): Promise<void> {
  const body: unknown = await res.json();
  expect({ status: res.status, body }).toMatchObject({ status, body: { error: { code } } });
  ErrorSchema.parse(body);
}

describe('POST /v1/search', () => {
  it('finds a gallery image, raw body, with decision, threshold, model, index and timings', async () => {
    const res = await post('/v1/search', await syntheticPng(2001));
    expect(res.status).toBe(200);
    const body = SearchResponseSchema.parse(await res.json());
    expect(body.decision).toEqual({ identity: 'id002', match: true, distance: 0 });
    expect(body.matches[0]).toMatchObject({ identity: 'id002', match: true, similarity: 1, image: { source: 'id002/1.png', origin: 'folder' } });
    expect(body.matches[0].image.thumbnail).toBe(`/v1/gallery/images/${body.matches[0].image.sha256}/thumbnail`);
    // Identity level by default: each identity once, nearest first.
    expect(new Set(body.matches.map((m) => m.identity)).size).toBe(body.matches.length);
    expect(body.matches.map((m) => m.distance)).toEqual([...body.matches.map((m) => m.distance)].sort((a, b) => a - b));
    expect(body.threshold).toEqual({ value: 1, source: 'calibrated', far: 0.5, tar: 0.5 });
    expect(body.model.id).toBe(rt.card.modelId);
    expect(body.index.version).toBe(IndexInfoSchema.parse(await (await rt.app.request('/v1/index', { headers: read })).json()).version);
    expect(body.timings.totalMs).toBeGreaterThanOrEqual(body.timings.embedMs);
    expect(res.headers.get('server-timing')).toMatch(/decode;dur=[\d.]+, embed;dur=[\d.]+, search;dur=[\d.]+, serialise;dur=[\d.]+/);
  });

  it('takes multipart and base64 JSON too, and the same image gives the same answer', async () => {
    const png = await syntheticPng(3002);
    const viaForm = SearchResponseSchema.parse(await (await post('/v1/search', form({ image: png }))).json());
    const viaJson = SearchResponseSchema.parse(await (await rt.app.request('/v1/search', json({ image: `data:image/png;base64,${b64(png)}` }))).json());
    expect(viaForm.decision).toEqual({ identity: 'id003', match: true, distance: 0 });
    expect(viaJson.matches).toEqual(viaForm.matches);
  });

  it('honours k, level and a threshold override (query, JSON or form fields)', async () => {
    const png = await syntheticPng(1000);
    const images = SearchResponseSchema.parse(await (await post('/v1/search?k=6&level=image', png)).json());
    expect(images.matches).toHaveLength(6);
    expect(new Set(images.matches.map((m) => m.image.label)).size).toBe(6);
    const identities = SearchResponseSchema.parse(await (await post('/v1/search?k=6', png)).json());
    expect(identities.matches).toHaveLength(4); // only 4 identities exist
    const strict = SearchResponseSchema.parse(await (await rt.app.request('/v1/search', json({ image: b64(await syntheticPng(99_999)), threshold: 1e-6, k: 2 }))).json());
    expect(strict.decision).toMatchObject({ identity: 'unknown', match: false });
    expect(strict.decision.distance).toBeGreaterThan(0);
    expect(strict.threshold).toEqual({ value: 1e-6, source: 'request', far: null, tar: null });
    expect(strict.matches).toHaveLength(2);
    expect(strict.matches.every((m) => !m.match)).toBe(true);
    const viaForm = SearchResponseSchema.parse(await (await post('/v1/search', form({ image: png, k: '1' }))).json());
    expect(viaForm.matches).toHaveLength(1);
  });

  it('refuses bad parameters and bodies with 400', async () => {
    const png = await syntheticPng(1);
    await expectError(await post('/v1/search?k=0', png), 400, 'INVALID_PARAMETER');
    await expectError(await post('/v1/search?k=0', png, {}), 401, 'UNAUTHORIZED'); // the key is checked first
    await expectError(await rt.app.request('/v1/gallery?limit=0'), 401, 'UNAUTHORIZED');
    await expectError(await post('/v1/search?k=101', png), 400, 'INVALID_PARAMETER');
    await expectError(await post('/v1/search?k=two', png), 400, 'INVALID_PARAMETER');
    await expectError(await post('/v1/search?threshold=0', png), 400, 'INVALID_PARAMETER');
    await expectError(await post('/v1/search?threshold=4.5', png), 400, 'INVALID_PARAMETER');
    await expectError(await post('/v1/search?level=planet', png), 400, 'INVALID_PARAMETER');
    await expectError(await rt.app.request('/v1/search', { method: 'POST', body: '{"image":', headers: { ...read, 'content-type': 'application/json' } }), 400, 'INVALID_BODY');
    await expectError(await rt.app.request('/v1/search', json({ image: 'not base64!' })), 400, 'INVALID_BASE64');
    await expectError(await rt.app.request('/v1/search', json({ picture: b64(png) })), 400, 'INVALID_BODY');
    await expectError(await post('/v1/search', new Uint8Array(0)), 400, 'MISSING_IMAGE');
    await expectError(await post('/v1/search', form({ photo: png })), 400, 'MISSING_IMAGE');
    await expectError(await post('/v1/search', form({ image: 'text, not a file' })), 400, 'INVALID_BODY');
    await expectError(await post('/v1/search', form({ image: [png, png] })), 400, 'TOO_MANY_IMAGES');
  });

  it('refuses unsupported formats by their bytes (415), whatever the Content-Type says', async () => {
    const svg = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"><rect width="28" height="28"/></svg>');
    await expectError(await rt.app.request('/v1/search', { method: 'POST', body: svg, headers: { ...read, 'content-type': 'image/png' } }), 415, 'UNSUPPORTED_IMAGE');
    await expectError(await post('/v1/search', new Uint8Array(2000).fill(7)), 415, 'UNSUPPORTED_IMAGE');
    const png = await syntheticPng(5);
    await expectError(await post('/v1/search', png.subarray(0, Math.floor(png.length / 2))), 415, 'UNDECODABLE_IMAGE');
    // A real PNG labelled as JPEG is still searched (format from the bytes).
    expect((await rt.app.request('/v1/search', { method: 'POST', body: png, headers: { ...read, 'content-type': 'image/jpeg' } })).status).toBe(200);
  });

  it('accepts JPEG, WebP, GIF, TIFF and AVIF', async () => {
    const base = sharp(await syntheticPng(1002));
    for (const format of ['jpeg', 'webp', 'gif', 'tiff', 'avif'] as const) {
      const bytes = await base.clone().toFormat(format).toBuffer();
      const res = await post('/v1/search?k=1', bytes);
      expect({ format, status: res.status }).toEqual({ format, status: 200 });
      expect(SearchResponseSchema.parse(await res.json()).matches[0].identity).toBe('id001');
    }
  });

  it('answers 413 past the byte or pixel limit and 422 for a too small image', async () => {
    const big = await sharp({ create: { width: 60, height: 60, channels: 3, background: '#808080' } }).png({ compressionLevel: 0 }).toBuffer();
    expect(big.length).toBeGreaterThan(4096);
    await expectError(await post('/v1/search', big), 413, 'PAYLOAD_TOO_LARGE');
    const manyPixels = await sharp({ create: { width: 200, height: 200, channels: 3, background: '#000000' } }).png().toBuffer();
    expect(manyPixels.length).toBeLessThan(4096);
    await expectError(await post('/v1/search', manyPixels), 413, 'IMAGE_TOO_LARGE');
    await expectError(await post('/v1/search', await syntheticPng(3, 4)), 422, 'IMAGE_TOO_SMALL');
  });
});

describe('POST /v1/search/batch, /v1/verify, /v1/embed', () => {
  it('batch: one result per image in order, per-image errors, bounded count', async () => {
    const res = await rt.app.request('/v1/search/batch?k=2', json({ images: [b64(await syntheticPng(0)), b64(new TextEncoder().encode('<svg/>')), b64(await syntheticPng(3000))] }));
    expect(res.status).toBe(200);
    const body = SearchBatchResponseSchema.parse(await res.json());
    expect(body.results).toHaveLength(3);
    expect(body.results[0]).toMatchObject({ decision: { identity: 'id000', match: true } });
    expect(body.results[1]).toMatchObject({ error: { code: 'UNSUPPORTED_IMAGE' } });
    expect(body.results[2]).toMatchObject({ decision: { identity: 'id003' } });
    const four = Array.from({ length: 4 }, () => b64(new Uint8Array([1])));
    await expectError(await rt.app.request('/v1/search/batch', json({ images: four })), 400, 'TOO_MANY_IMAGES');
    await expectError(await post('/v1/search/batch', await syntheticPng(0)), 400, 'INVALID_BODY');
  });

  it('batch: bad base64, an empty entry or an oversized image fail only their own entry', async () => {
    const oversized = await sharp({ create: { width: 60, height: 60, channels: 3, background: '#808080' } }).png({ compressionLevel: 0 }).toBuffer();
    expect(oversized.length).toBeGreaterThan(4096); // MAX_IMAGE_BYTES of this runtime
    const first = await rt.app.request('/v1/search/batch?k=1', json({ images: ['not base64!', b64(await syntheticPng(2000)), b64(oversized)] }));
    expect(first.status).toBe(200);
    const a = SearchBatchResponseSchema.parse(await first.json());
    expect(a.results).toHaveLength(3);
    expect(a.results[0]).toMatchObject({ error: { code: 'INVALID_BASE64' } });
    expect(a.results[1]).toMatchObject({ decision: { identity: 'id002', match: true } });
    expect(a.results[2]).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    const second = SearchBatchResponseSchema.parse(await (await rt.app.request('/v1/search/batch?k=1', json({ images: [b64(await syntheticPng(1000)), ''] }))).json());
    expect(second.results[0]).toMatchObject({ decision: { identity: 'id001' } });
    expect(second.results[1]).toMatchObject({ error: { code: 'MISSING_IMAGE' } });
    // The shape of the body is still checked as a whole.
    await expectError(await rt.app.request('/v1/search/batch', json({ images: [b64(await syntheticPng(0)), 42] })), 400, 'INVALID_BODY');
    await expectError(await rt.app.request('/v1/search/batch', json({ images: [] })), 400, 'INVALID_BODY');
  });

  it('batch: the request limits still apply to the whole request', async () => {
    const four = Array.from({ length: 4 }, () => 'not base64!');
    await expectError(await rt.app.request('/v1/search/batch', json({ images: four })), 400, 'TOO_MANY_IMAGES');
    await expectError(await post('/v1/search/batch', await syntheticPng(0)), 400, 'INVALID_BODY');
  });

  it('verify: same image → distance 0 and same; different images → a positive distance; threshold override', async () => {
    const a = await syntheticPng(1);
    const b = await syntheticPng(2002);
    const same = VerifyResponseSchema.parse(await (await post('/v1/verify', form({ image_a: a, image_b: a }))).json());
    expect(same).toMatchObject({ same: true, distance: 0, similarity: 1, threshold: { source: 'calibrated' } });
    const different = VerifyResponseSchema.parse(await (await rt.app.request('/v1/verify', json({ imageA: b64(a), imageB: b64(b), threshold: 1e-6 }))).json());
    expect(different.distance).toBeGreaterThan(0);
    expect(different).toMatchObject({ same: false, threshold: { value: 1e-6, source: 'request' } });
    expect(different.similarity).toBeCloseTo(1 - different.distance ** 2 / 2, 5);
    await expectError(await post('/v1/verify', form({ image_a: a })), 400, 'MISSING_IMAGE');
    await expectError(await post('/v1/verify', a), 400, 'INVALID_BODY');
  });

  it('embed: the normalised vector, equal to what the index stores for that image', async () => {
    const body = EmbedResponseSchema.parse(await (await post('/v1/embed', await syntheticPng(1001))).json());
    expect(body).toMatchObject({ dim: 8, normalized: true, metric: 'l2' });
    expect(Math.hypot(...body.vector)).toBeCloseTo(1, 5);
    const hits = (await rt.store.reader()?.search(body.vector, 1)) ?? [];
    expect(hits[0]).toMatchObject({ source: 'id001/1.png' });
    expect(hits[0].distance).toBeLessThan(1e-5);
  });
});

describe('gallery, index and operational routes', () => {
  it('lists identities with counts, paged with a cursor', async () => {
    const first = GalleryResponseSchema.parse(await (await rt.app.request('/v1/gallery?limit=3', { headers: read })).json());
    expect(first.identities).toEqual([
      { identity: 'id000', images: 3 },
      { identity: 'id001', images: 3 },
      { identity: 'id002', images: 3 },
    ]);
    expect(first.nextCursor).not.toBeNull();
    const second = GalleryResponseSchema.parse(await (await rt.app.request(`/v1/gallery?limit=3&cursor=${first.nextCursor}`, { headers: read })).json());
    expect(second).toEqual({ identities: [{ identity: 'id003', images: 3 }], nextCursor: null });
    await expectError(await rt.app.request('/v1/gallery?limit=0', { headers: read }), 400, 'INVALID_PARAMETER');
    await expectError(await rt.app.request('/v1/gallery?cursor=%%%', { headers: read }), 400, 'INVALID_PARAMETER');
  });

  it('refuses a cursor it did not return with 400, whatever it decodes to', async () => {
    const first = GalleryResponseSchema.parse(await (await rt.app.request('/v1/gallery?limit=1', { headers: read })).json());
    const cursor = first.nextCursor ?? '';
    expect((await rt.app.request(`/v1/gallery?limit=1&cursor=${cursor}`, { headers: read })).status).toBe(200);
    const bad = [
      'zzz',
      Buffer.from('id001').toString('base64url'), // a bare identity (the old format)
      Buffer.from('{"v":1}').toString('base64url'),
      Buffer.from('{"v":2,"after":"id001"}').toString('base64url'),
      `${cursor}A`,
      cursor.slice(0, -1),
    ];
    for (const value of bad) {
      const res = await rt.app.request(`/v1/gallery?cursor=${encodeURIComponent(value)}`, { headers: read });
      expect({ value, status: res.status }).toEqual({ value, status: 400 });
      await expectError(res, 400, 'INVALID_PARAMETER');
    }
  });

  it('serves thumbnails by sha256 or label as small PNGs, with ETag; 404 for unknown ones', async () => {
    const search = SearchResponseSchema.parse(await (await post('/v1/search?k=1', await syntheticPng(2))).json());
    const { thumbnail, sha256, label } = search.matches[0].image;
    const res = await rt.app.request(thumbnail, { headers: read });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('cache-control')).toContain('immutable');
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    expect(meta).toMatchObject({ format: 'png' });
    expect(Math.max(meta.width ?? 0, meta.height ?? 0)).toBeLessThanOrEqual(96);
    expect(Math.max(meta.width ?? 0, meta.height ?? 0)).toBeGreaterThan(28);
    expect((await rt.app.request(`/v1/gallery/images/${label}/thumbnail`, { headers: read })).status).toBe(200);
    expect((await rt.app.request(thumbnail, { headers: { ...read, 'if-none-match': `"${sha256}"` } })).status).toBe(304);
    await expectError(await rt.app.request(`/v1/gallery/images/${'0'.repeat(64)}/thumbnail`, { headers: read }), 404, 'IMAGE_NOT_FOUND');
    await expectError(await rt.app.request('/v1/gallery/images/99999/thumbnail', { headers: read }), 404, 'IMAGE_NOT_FOUND');
  });

  it('reports the index, readiness, health, metrics and the OpenAPI document', async () => {
    const info = IndexInfoSchema.parse(await (await rt.app.request('/v1/index', { headers: read })).json());
    expect(info).toMatchObject({ images: 12, identities: 4, params: { dim: 8, metric: 'l2', M: 16 }, model: { id: rt.card.modelId, input: { width: rt.card.preprocess.width, height: rt.card.preprocess.height, channels: rt.card.preprocess.channels }, threshold: { value: rt.card.thresholds.default, source: 'calibrated' } }, reload: { refused: null } });
    const ready = await rt.app.request('/readyz');
    expect(ready.status).toBe(200);
    expect(ReadySchema.parse(await ready.json())).toMatchObject({ status: 'ready', index: { loaded: true } });
    expect(await (await rt.app.request('/healthz')).json()).toEqual({ status: 'ok' });
    const metrics = await (await rt.app.request('/metrics', { headers: read })).text();
    expect(metrics).toMatch(/twinsearch_http_requests_total\{method="POST",route="\/v1\/search",status="200"\} \d+/);
    expect(metrics).toMatch(/twinsearch_stage_duration_seconds_count\{stage="embed"\} \d+/);
    expect(metrics).toContain(`twinsearch_index_info{version="${info.version}",model="${rt.card.modelId}"} 1`);
    expect(metrics).toContain('twinsearch_index_size{kind="images"} 12');
    const doc = (await (await rt.app.request('/openapi.json')).json()) as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
    expect(doc.openapi).toBe('3.1.0');
    for (const path of ['/v1/search', '/v1/search/batch', '/v1/verify', '/v1/embed', '/v1/gallery', '/v1/gallery/{identity}', '/v1/gallery/images/{label}/thumbnail', '/v1/index', '/healthz', '/readyz', '/metrics']) {
      expect(doc.paths).toHaveProperty([path]);
    }
    expect(doc.components.schemas).toHaveProperty('SearchResponse');
  });

  it('serves the demo page when installed, 404 JSON otherwise; unknown routes are 404 JSON', async () => {
    await expectError(await rt.app.request('/'), 404, 'NOT_FOUND');
    await expectError(await rt.app.request('/demo.js'), 404, 'NOT_FOUND');
    await writeDemo(fx, '<!doctype html><title>demo</title>');
    const page = await rt.app.request('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('<title>demo</title>');
    await expectError(await rt.app.request('/v2/search', { method: 'POST' }), 404, 'NOT_FOUND');
  });
});

describe('the OpenAPI document is the routing table', () => {
  type Operation = { summary?: string; deprecated?: boolean; 'x-alias-of'?: string; security?: unknown[] };
  const document = async () => (await (await rt.app.request('/openapi.json')).json()) as { paths: Record<string, Record<string, Operation>> };
  /** Hono's `/v1/gallery/:identity{[\\s\\S]+}` as OpenAPI's `/v1/gallery/{identity}`. */
  const openApiPath = (path: string): string => path.replace(/:([A-Za-z_]\w*)(\{(?:[^{}]|\{[^{}]*\})*\})?/g, '{$1}');
  const DEMO_FILES = new Set(['/', '/demo.js', '/demo.css']);

  it('documents every route the app serves (but the demo page files), with its methods', async () => {
    const served = new Set(rt.app.routes.filter((r) => r.method !== 'ALL' && !DEMO_FILES.has(r.path)).map((r) => `${r.method} ${openApiPath(r.path)}`));
    const doc = await document();
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`)));
    expect([...served].sort()).toEqual([...documented].sort());
    expect(served.size).toBeGreaterThanOrEqual(20); // 11 /v1 and ops routes, 8 aliases, the document itself
  });

  it('every documented path and method answers (no NOT_FOUND)', async () => {
    const doc = await document();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item)) {
        const url = path.replace('{identity}', 'nobody').replace('{label}', '0');
        const res = await rt.app.request(url, { method: method.toUpperCase(), headers: admin });
        const body = res.headers.get('content-type')?.includes('json') ? ((await res.json()) as { error?: { code?: string } }) : {};
        expect({ route: `${method} ${path}`, code: body.error?.code }).not.toEqual({ route: `${method} ${path}`, code: 'NOT_FOUND' });
      }
    }
  });

  it('serves /search, /search/batch, /verify, /embed and /gallery… as documented aliases of the /v1 routes', async () => {
    const doc = await document();
    const aliases = {
      '/search': ['post', '/v1/search'],
      '/search/batch': ['post', '/v1/search/batch'],
      '/verify': ['post', '/v1/verify'],
      '/embed': ['post', '/v1/embed'],
      '/gallery': ['get', '/v1/gallery'],
      '/gallery/images/{label}/thumbnail': ['get', '/v1/gallery/images/{label}/thumbnail'],
      '/gallery/{identity}': ['post', '/v1/gallery/{identity}'],
    } as const;
    for (const [alias, [method, of]] of Object.entries(aliases)) {
      const operation = doc.paths[alias]?.[method];
      expect({ alias, operation }).toMatchObject({ alias, operation: { deprecated: false, 'x-alias-of': of, summary: expect.stringMatching(new RegExp(`^Alias of ${method.toUpperCase()} ${of.replace(/[{}/]/g, '\\$&')}`)) } });
      expect(operation?.security).toEqual(doc.paths[of][method].security);
    }
    expect(doc.paths['/gallery/{identity}'].delete).toMatchObject({ 'x-alias-of': '/v1/gallery/{identity}' });

    const png = await syntheticPng(2001);
    const viaAlias = SearchResponseSchema.parse(await (await post('/search?k=2', png)).json());
    const viaV1 = SearchResponseSchema.parse(await (await post('/v1/search?k=2', png)).json());
    expect(viaAlias.matches).toEqual(viaV1.matches);
    await expectError(await post('/search', png, {}), 401, 'UNAUTHORIZED');
    await expectError(await post('/search?k=0', png), 400, 'INVALID_PARAMETER');
    expect(SearchBatchResponseSchema.parse(await (await rt.app.request('/search/batch', json({ images: [b64(png)] }))).json()).results).toHaveLength(1);
    expect(VerifyResponseSchema.parse(await (await post('/verify', form({ image_a: png, image_b: png }))).json()).same).toBe(true);
    expect(EmbedResponseSchema.parse(await (await post('/embed', png)).json()).dim).toBe(8);
    expect(GalleryResponseSchema.parse(await (await rt.app.request('/gallery?limit=1', { headers: read })).json()).identities).toHaveLength(1);
    expect((await rt.app.request(`/gallery/images/${viaAlias.matches[0].image.sha256}/thumbnail`, { headers: read })).status).toBe(200);
    await expectError(await rt.app.request('/gallery/someone', { method: 'DELETE', headers: read }), 403, 'FORBIDDEN');
    await expectError(await rt.app.request('/gallery/nobody/at/all', { method: 'DELETE', headers: admin }), 404, 'UNKNOWN_IDENTITY');

    const metrics = await (await rt.app.request('/metrics', { headers: read })).text();
    expect(metrics).toMatch(/twinsearch_http_requests_total\{method="POST",route="\/search",status="200"\} \d+/);
    expect(metrics).toMatch(/twinsearch_http_requests_total\{method="DELETE",route="\/gallery\/:identity\{\[\\\\s\\\\S\]\+\}",status="404"\} \d+/);
  });
});

describe('auth matrix', () => {
  const routes: { method: string; path: string; permission: 'open' | 'read' | 'admin' }[] = [
    { method: 'GET', path: '/healthz', permission: 'open' },
    { method: 'GET', path: '/readyz', permission: 'open' },
    { method: 'GET', path: '/openapi.json', permission: 'open' },
    { method: 'GET', path: '/metrics', permission: 'read' },
    { method: 'GET', path: '/v1/index', permission: 'read' },
    { method: 'GET', path: '/v1/gallery', permission: 'read' },
    { method: 'GET', path: '/v1/gallery/images/0/thumbnail', permission: 'read' },
    { method: 'POST', path: '/v1/search', permission: 'read' },
    { method: 'POST', path: '/v1/search/batch', permission: 'read' },
    { method: 'POST', path: '/v1/verify', permission: 'read' },
    { method: 'POST', path: '/v1/embed', permission: 'read' },
    { method: 'POST', path: '/v1/gallery/someone', permission: 'admin' },
    { method: 'DELETE', path: '/v1/gallery/someone', permission: 'admin' },
    { method: 'POST', path: '/search', permission: 'read' },
    { method: 'POST', path: '/search/batch', permission: 'read' },
    { method: 'POST', path: '/verify', permission: 'read' },
    { method: 'POST', path: '/embed', permission: 'read' },
    { method: 'GET', path: '/gallery', permission: 'read' },
    { method: 'GET', path: '/gallery/images/0/thumbnail', permission: 'read' },
    { method: 'POST', path: '/gallery/someone', permission: 'admin' },
    { method: 'DELETE', path: '/gallery/someone', permission: 'admin' },
  ];
  const keys = { none: {}, wrong: bearer('wrong-key-0123456789abcdef'), malformed: { authorization: `Basic ${READ_KEY}` }, read, admin };

  it.each(routes)('$method $path needs $permission', async ({ method, path, permission }) => {
    for (const [name, headers] of Object.entries(keys)) {
      const res = await rt.app.request(path, { method, headers });
      const allowed = permission === 'open' || name === 'admin' || (permission === 'read' && name === 'read');
      const expected = allowed ? 'passes auth' : name === 'read' ? 403 : 401;
      // Allowed requests may still fail validation (empty bodies): anything but 401/403 passed auth.
      const got = res.status === 401 || res.status === 403 ? res.status : 'passes auth';
      expect({ key: name, got }).toEqual({ key: name, got: expected });
      if (res.status === 401) expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });
});

describe('no index yet', () => {
  it('answers 503 NOT_READY on index routes and /readyz, verify and embed still work', async () => {
    const empty = await createFixture({ identities: 2, perIdentity: 2, index: false });
    const runtime = await fixtureRuntime(empty, { open: true });
    try {
      const ready = await runtime.app.request('/readyz');
      expect(ready.status).toBe(503);
      const pgvector = process.env.TWINSEARCH_TEST_STORE === 'pgvector';
      const fix = `npm run index -- --model ${empty.modelDir} --gallery ${empty.galleryDir} ${pgvector ? '--vector-store pgvector' : `--out ${empty.indexDir}`}`;
      expect(ReadySchema.parse(await ready.json())).toMatchObject({ status: 'not-ready', index: { loaded: false, version: null }, problem: { code: 'NO_INDEX', fix } });
      const search = await runtime.app.request('/v1/search', { method: 'POST', body: await syntheticPng(1) });
      expect(((await search.clone().json()) as { error: { message: string } }).error.message).toContain(fix);
      await expectError(search, 503, 'NOT_READY');
      await expectError(await runtime.app.request('/v1/gallery'), 503, 'NOT_READY');
      await expectError(await runtime.app.request('/v1/index'), 503, 'NOT_READY');
      expect((await runtime.app.request('/v1/embed', { method: 'POST', body: await syntheticPng(1) })).status).toBe(200);
      // Open (no keys, loopback): admin routes need no key either.
      await expectError(await runtime.app.request('/v1/gallery/x', { method: 'DELETE' }), 503, 'NOT_READY');

      // An index of another model in this server's index folder: said as such, with the same fix
      // (the pgvector store's own tests cover its other-model refusal).
      if (pgvector) return;
      const otherDir = join(empty.dir, 'other-model');
      const other = await writeTinyModel(otherDir, { seed: 7, name: 'other' });
      const embedder = await openEmbedder(otherDir);
      try {
        await runIndex({ indexDir: empty.indexDir, store: new GalleryStore(empty.galleryDir), embedder, mode: 'build' });
      } finally {
        await embedder.close();
      }
      expect(await runtime.store.reload()).toBe('refused');
      const wrong = ReadySchema.parse(await (await runtime.app.request('/readyz')).json());
      expect(wrong).toMatchObject({ status: 'not-ready', problem: { code: 'OTHER_MODEL', fix } });
      expect(wrong.problem?.message).toContain(other.modelId);
    } finally {
      await runtime.close();
      await empty.cleanup();
    }
  });
});

describe('enrolment and deletion', () => {
  let mfx: Fixture;
  let mrt: Runtime;
  beforeAll(async () => {
    mfx = await createFixture({ identities: 3, perIdentity: 2 });
    mrt = await fixtureRuntime(mfx, { env: { MAX_ENROL_IMAGES: '3' } });
  });
  afterAll(async () => {
    await mrt?.close();
    await mfx?.cleanup();
  });
  const mpost = (path: string, body: BodyInit, headers = admin) => mrt.app.request(path, { method: 'POST', body, headers });
  /** Waits (through GET /v1/index) until the runtime serves `version`. */
  const servingVersion = async (version: string): Promise<void> => {
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
      const info = IndexInfoSchema.parse(await (await mrt.app.request('/v1/index', { headers: read })).json());
      if (info.version === version) return;
    }
    throw new Error(`the runtime did not swap ${version} in`);
  };
  const topIdentity = async (png: Uint8Array<ArrayBuffer>): Promise<string> => {
    const body = SearchResponseSchema.parse(await (await mrt.app.request('/v1/search?k=1', { method: 'POST', body: png, headers: read })).json());
    return body.matches[0].identity;
  };

  it('enrols (multipart, several images), finds the new identity at once, and keeps it through a re-index', async () => {
    const [a, b] = [await syntheticPng(777_001), await syntheticPng(777_002)];
    const res = await mpost('/v1/gallery/Latin%2Fcharacter03', form({ image: [a, b] }));
    expect(res.status).toBe(201);
    const body = EnrolResponseSchema.parse(await res.json());
    expect(body).toMatchObject({ identity: 'Latin/character03', added: 2, duplicates: 0, images: 2 });
    expect(await topIdentity(a)).toBe('Latin/character03');
    // The same bytes again: stored once, not added twice.
    const again = EnrolResponseSchema.parse(await (await mpost('/v1/gallery/Latin/character03', a)).json());
    expect(again).toMatchObject({ added: 0, duplicates: 1, images: 2 });

    await servingVersion(await mfx.index('reindex'));
    expect(await topIdentity(b)).toBe('Latin/character03');
    const info = IndexInfoSchema.parse(await (await mrt.app.request('/v1/index', { headers: read })).json());
    expect(info).toMatchObject({ identities: 4, images: 8, liveAdded: 0 });
  });

  it('validates every image before storing anything, and the identity name', async () => {
    const good = await syntheticPng(888_001);
    await expectError(await mpost('/v1/gallery/bob', form({ image: [good, new TextEncoder().encode('<svg/>')] })), 415, 'UNSUPPORTED_IMAGE');
    const listed = GalleryResponseSchema.parse(await (await mrt.app.request('/v1/gallery?limit=1000', { headers: read })).json());
    expect(listed.identities.map((i) => i.identity)).not.toContain('bob');
    expect((await new GalleryStore(mfx.galleryDir).listGalleryEntries({ identity: 'bob' })).entries).toHaveLength(0);
    await expectError(await mpost('/v1/gallery/a%2F..%2Fb', good), 400, 'INVALID_IDENTITY');
    // Mixed forms that URL parsing leaves alone reach the route and are refused there too
    // (raw "." and ".." segments are resolved by URL parsing before the app: see test/api-node.test.ts).
    for (const path of ['/v1/gallery/a/..%2Fb', '/v1/gallery/a%2F../b', '/v1/gallery/a/.%2Fb', '/v1/gallery/%2E%2E%2Fb', '/gallery/a%2F..%2Fb']) {
      const res = await mpost(path, good);
      expect({ path, status: res.status }).toEqual({ path, status: 400 });
      await expectError(res, 400, 'INVALID_IDENTITY');
    }
    await expectError(await mrt.app.request('/v1/gallery/a%2F..%2Fb', { method: 'DELETE', headers: admin }), 400, 'INVALID_IDENTITY');
    await expectError(await mpost('/v1/gallery/bad%01name', good), 400, 'INVALID_IDENTITY');
    await expectError(await mpost(`/v1/gallery/${'x'.repeat(201)}`, good), 400, 'INVALID_IDENTITY');
    await expectError(await mpost('/v1/gallery/bob', form({ image: [good, good, good, good] })), 400, 'TOO_MANY_IMAGES');
    await expectError(await mpost('/v1/gallery/bob', new Uint8Array(0)), 400, 'MISSING_IMAGE');
    const viaJson = await mrt.app.request('/v1/gallery/bob', json({ images: [b64(good)] }, admin));
    expect(viaJson.status).toBe(201);
  });

  it('deletes an identity live and durably: gone at once, gone after a re-index, 404 the second time', async () => {
    const png = await syntheticPng(1001); // id001/1.png, a folder image
    expect(await topIdentity(png)).toBe('id001');
    const res = await mrt.app.request('/v1/gallery/id001', { method: 'DELETE', headers: admin });
    expect(res.status).toBe(200);
    expect(DeleteResponseSchema.parse(await res.json())).toMatchObject({ identity: 'id001', removed: 2 });
    expect(await topIdentity(png)).not.toBe('id001');
    await expectError(await mrt.app.request('/v1/gallery/id001', { method: 'DELETE', headers: admin }), 404, 'UNKNOWN_IDENTITY');
    await servingVersion(await mfx.index('reindex'));
    expect(await topIdentity(png)).not.toBe('id001');
    const page = GalleryResponseSchema.parse(await (await mrt.app.request('/v1/gallery', { headers: read })).json());
    expect(page.identities.map((i) => i.identity)).not.toContain('id001');
  });

  it('an enrolment made while a re-index runs is caught up after the swap', async () => {
    const png = await syntheticPng(999_001);
    // Enrol after the re-index has read the gallery and its journal: the new snapshot cannot hold
    // carol, so only catching the snapshot up with the journal at the swap keeps her searchable.
    const version = await mfx.index('reindex', {
      afterListing: async () => {
        expect((await mpost('/v1/gallery/carol', png)).status).toBe(201);
        expect(await topIdentity(png)).toBe('carol'); // live in the serving snapshot
      },
    });
    await servingVersion(version); // the runtime notices the new CURRENT and swaps it in
    expect(await topIdentity(png)).toBe('carol');
    const info = IndexInfoSchema.parse(await (await mrt.app.request('/v1/index', { headers: read })).json());
    expect(info).toMatchObject({ version, liveAdded: 1 });
  });
});

describe('tensor hygiene', () => {
  it('tf.memory().numTensors is unchanged after 200 requests', async () => {
    const png = await syntheticPng(2);
    await post('/v1/search', png); // warm-up
    const before = tf.memory().numTensors;
    for (let i = 0; i < 200; i++) {
      const res = i % 4 === 3 ? await post('/v1/verify', form({ image_a: png, image_b: png })) : await post('/v1/search', png);
      expect(res.status).toBe(200);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('files are read with the right identity', () => {
  it('a folder image changed since indexing is not shown as a thumbnail', async () => {
    // (Thumbnails already rendered stay served from memory: they show the bytes that were indexed.)
    const path = join(fx.galleryDir, 'id003', '0.png');
    const original = await readFile(path);
    const search = SearchResponseSchema.parse(await (await post('/v1/search?k=1&level=image', original)).json());
    await writeFile(path, await syntheticPng(123_456));
    try {
      await expectError(await rt.app.request(`/v1/gallery/images/${search.matches[0].image.label}/thumbnail`, { headers: read }), 404, 'IMAGE_NOT_FOUND');
    } finally {
      await rm(path);
      await writeFile(path, original);
    }
  });
});

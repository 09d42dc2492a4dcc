import { describe, expect, it } from 'vitest';
import { ApiError } from '../errors/index.js';
import {
  decodeGalleryCursor,
  encodeGalleryCursor,
  EnrolJsonBodySchema,
  ErrorSchema,
  GalleryQuerySchema,
  SearchBatchBodySchema,
  SearchJsonBodySchema,
  SearchOptionsSchema,
  validate,
  VerifyJsonBodySchema,
} from './index.js';

const accepts = (schema: { safeParse(v: unknown): { success: boolean } }, value: unknown): boolean => schema.safeParse(value).success;

/** How `validate` fails: "<code>: <message>", or "ok". */
function outcome(run: () => unknown): string {
  try {
    run();
    return 'ok';
  } catch (error) {
    return error instanceof ApiError ? `${error.code}: ${error.message}` : String(error);
  }
}

describe('search options', () => {
  it('k: integers 1..100, from query strings too', () => {
    for (const k of ['1', '100', 1, 100, '07']) expect({ k, ok: accepts(SearchOptionsSchema, { k }) }).toEqual({ k, ok: true });
    for (const k of ['0', '101', '1.5', 'two', '', ' ', '1e3', 'NaN', -1]) expect({ k, ok: accepts(SearchOptionsSchema, { k }) }).toEqual({ k, ok: false });
    expect(SearchOptionsSchema.parse({ k: '07' }).k).toBe(7);
  });

  it('threshold: 0 < t <= 4', () => {
    for (const threshold of ['1e-6', '0.47', '4', 4]) expect({ threshold, ok: accepts(SearchOptionsSchema, { threshold }) }).toEqual({ threshold, ok: true });
    for (const threshold of ['0', '-0.1', '4.0001', 'NaN', 'Infinity', 'abc']) expect({ threshold, ok: accepts(SearchOptionsSchema, { threshold }) }).toEqual({ threshold, ok: false });
  });

  it('level: identity or image, exactly', () => {
    expect(['identity', 'image', 'IMAGE', 'images', ''].map((level) => accepts(SearchOptionsSchema, { level }))).toEqual([true, true, false, false, false]);
  });

  it('every option may be left out', () => {
    expect(SearchOptionsSchema.parse({})).toEqual({});
  });
});

describe('bodies', () => {
  it('a single image must be a non-empty string', () => {
    expect(accepts(SearchJsonBodySchema, { image: 'iVBORw0KGgo=' })).toBe(true);
    expect(accepts(SearchJsonBodySchema, { image: '' })).toBe(false);
    expect(accepts(SearchJsonBodySchema, { image: 42 })).toBe(false);
    expect(accepts(SearchJsonBodySchema, {})).toBe(false);
    expect(accepts(VerifyJsonBodySchema, { imageA: 'AA==' })).toBe(false);
  });

  it('a batch needs at least one entry; each entry is any string (checked one by one later)', () => {
    expect(accepts(SearchBatchBodySchema, { images: ['AA==', '', 'not base64!'] })).toBe(true);
    expect(accepts(SearchBatchBodySchema, { images: [] })).toBe(false);
    expect(accepts(SearchBatchBodySchema, { images: ['AA==', 42] })).toBe(false);
    expect(accepts(SearchBatchBodySchema, { images: 'AA==' })).toBe(false);
  });

  it('an enrolment needs "image" or a non-empty "images"', () => {
    expect(accepts(EnrolJsonBodySchema, { image: 'AA==' })).toBe(true);
    expect(accepts(EnrolJsonBodySchema, { images: ['AA=='] })).toBe(true);
    expect(accepts(EnrolJsonBodySchema, { images: [] })).toBe(false);
    expect(accepts(EnrolJsonBodySchema, {})).toBe(false);
  });

  it('errors have exactly a code and a message', () => {
    expect(accepts(ErrorSchema, { error: { code: 'NOT_FOUND', message: 'no route' } })).toBe(true);
    expect(accepts(ErrorSchema, { error: { code: 'NOT_FOUND' } })).toBe(false);
    expect(accepts(ErrorSchema, { code: 'NOT_FOUND', message: 'no route' })).toBe(false);
  });
});

describe('gallery query', () => {
  it('limit 1..1000; a cursor up to 2048 characters', () => {
    for (const limit of ['1', '1000']) expect(accepts(GalleryQuerySchema, { limit })).toBe(true);
    for (const limit of ['0', '1001', '2.5', 'all']) expect({ limit, ok: accepts(GalleryQuerySchema, { limit }) }).toEqual({ limit, ok: false });
    expect(accepts(GalleryQuerySchema, { cursor: 'a'.repeat(2048) })).toBe(true);
    expect(accepts(GalleryQuerySchema, { cursor: 'a'.repeat(2049) })).toBe(false);
  });
});

describe('validate', () => {
  it('names the bad field; options are INVALID_PARAMETER wherever they come from, the rest INVALID_BODY', () => {
    expect(outcome(() => validate(SearchOptionsSchema, { k: '0' }, 'query'))).toMatch(/^INVALID_PARAMETER: invalid query: k: /);
    expect(outcome(() => validate(SearchJsonBodySchema, { image: 'AA==', k: 500 }, 'body', 'INVALID_BODY'))).toMatch(/^INVALID_PARAMETER: invalid body: k: /);
    expect(outcome(() => validate(SearchJsonBodySchema, { picture: 'AA==' }, 'body', 'INVALID_BODY'))).toMatch(/^INVALID_BODY: invalid body: image: /);
    expect(outcome(() => validate(SearchJsonBodySchema, { k: 0 }, 'body', 'INVALID_BODY'))).toMatch(/^INVALID_BODY: /); // a missing image too
    expect(outcome(() => validate(SearchJsonBodySchema, 'text', 'body', 'INVALID_BODY'))).toMatch(/^INVALID_BODY: invalid body: body: /);
    expect(validate(SearchOptionsSchema, { k: '3', level: 'image' }, 'query')).toEqual({ k: 3, level: 'image' });
  });
});

describe('gallery cursors', () => {
  it('round-trip any identity, in a small versioned envelope', () => {
    for (const identity of ['id000', 'Latin/character03', 'Ångström (1)', '名前', 'a'.repeat(200)]) {
      const cursor = encodeGalleryCursor(identity);
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeGalleryCursor(cursor)).toBe(identity);
    }
    expect(JSON.parse(Buffer.from(encodeGalleryCursor('id002'), 'base64url').toString())).toEqual({ v: 1, after: 'id002' });
  });

  it('refuses anything this API did not return with 400 INVALID_PARAMETER', () => {
    const cursor = encodeGalleryCursor('id002');
    const b64 = (text: string) => Buffer.from(text).toString('base64url');
    const refused = [
      'zzz',
      '%%%',
      b64('id002'), // a bare identity
      b64('{"v":2,"after":"id002"}'),
      b64('{"v":1}'),
      b64('{"v":1,"after":""}'),
      b64('{"v":1,"after":7}'),
      b64('{"v":1,"after":"id002","x":1}'),
      b64('{"after":"id002","v":1}'), // same content, not as encoded here
      b64('[1]'),
      `${cursor}=`,
      `${cursor}A`,
      cursor.slice(0, -1),
      Buffer.from([0xff, 0xfe, 0x7b]).toString('base64url'), // not UTF-8
    ];
    for (const value of refused) expect({ value, outcome: outcome(() => decodeGalleryCursor(value)) }).toEqual({ value, outcome: expect.stringMatching(/^INVALID_PARAMETER: /) });
  });
});

import { readFile } from 'node:fs/promises';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { ImageDecodeError } from '../../data/preprocess.js';
import { IndexError } from '../../index/errors.js';
import { ApiError, ERROR_STATUS, errorResponse, toApiError } from './index.js';

/** The error table of docs/api.md as code → status. */
async function documentedCodes(): Promise<Map<string, number>> {
  const doc = await readFile(new URL('../../../docs/api.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('\n## Errors'), doc.indexOf('\n## ', doc.indexOf('\n## Errors') + 1));
  const codes = new Map<string, number>();
  for (const [, status, cell] of section.matchAll(/^\| (\d{3}) \| ([^|]+) \|/gm)) {
    for (const [, code] of cell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) codes.set(code, Number(status));
  }
  return codes;
}

/** What a client receives for `error`: status, headers and parsed body. */
async function respond(error: unknown): Promise<{ status: number; type: string | null; challenge: string | null; body: unknown }> {
  const res = await new Hono().get('/', (c) => errorResponse(c, error)).request('/');
  return { status: res.status, type: res.headers.get('content-type'), challenge: res.headers.get('www-authenticate'), body: await res.json() };
}

describe('error codes', () => {
  // Clients match on codes and statuses: the documented table is the contract, so a change must change the docs too.
  it('docs/api.md documents exactly these codes with these statuses', async () => {
    expect(Object.fromEntries(await documentedCodes())).toEqual(ERROR_STATUS);
  });

  it('an ApiError carries the status of its code', () => {
    for (const [code, status] of Object.entries(ERROR_STATUS)) {
      const error = new ApiError(code as keyof typeof ERROR_STATUS, 'x');
      expect({ code, status: error.status, name: error.name }).toEqual({ code, status, name: 'ApiError' });
    }
  });
});

describe('toApiError', () => {
  const mapped = (error: unknown) => {
    const e = toApiError(error);
    return { code: e.code, status: e.status, message: e.message };
  };

  it('maps image decoding failures to 413 / 415 with messages fit for clients', () => {
    expect(mapped(new ImageDecodeError('UNSUPPORTED_IMAGE', 'magic 3c737667'))).toEqual({ code: 'UNSUPPORTED_IMAGE', status: 415, message: 'the image format is not accepted: send JPEG, PNG, WebP, GIF, TIFF or AVIF' });
    expect(mapped(new ImageDecodeError('IMAGE_TOO_LARGE', 'an image of 123 bytes has 20000x20000 pixels, more than 16777216'))).toEqual({ code: 'IMAGE_TOO_LARGE', status: 413, message: 'the image has 20000x20000 pixels, more than 16777216' });
    expect(mapped(new ImageDecodeError('EMPTY_IMAGE', 'Input Buffer is empty'))).toEqual({ code: 'UNDECODABLE_IMAGE', status: 415, message: 'the image is empty' });
    expect(mapped(new ImageDecodeError('CORRUPT_IMAGE', 'VipsJpeg: premature end of JPEG image'))).toEqual({ code: 'UNDECODABLE_IMAGE', status: 415, message: 'the image is corrupt or truncated and cannot be decoded' });
  });

  it('maps index errors a request can cause; the rest are internal', () => {
    expect(mapped(new IndexError('BAD_ARGUMENT', 'k must be at least 1'))).toEqual({ code: 'INVALID_PARAMETER', status: 400, message: 'k must be at least 1' });
    expect(mapped(new IndexError('NO_CURRENT', '/srv/index/CURRENT is missing'))).toEqual({ code: 'NOT_READY', status: 503, message: 'no index is loaded' });
    expect(mapped(new IndexError('NO_SNAPSHOT', '/srv/index/v000001 is missing'))).toMatchObject({ code: 'NOT_READY', status: 503 });
    expect(mapped(new IndexError('CORRUPT_SNAPSHOT', '/srv/index/v000001/hnsw.bin sha256 mismatch'))).toEqual({ code: 'INTERNAL', status: 500, message: 'internal error' });
  });

  it('never puts internals of an unexpected error in the message, whatever was thrown', () => {
    for (const thrown of [new Error('ENOENT: /srv/secret/path'), new TypeError('x is undefined'), 'a string', undefined, null, 42, { code: 'EPIPE' }]) {
      expect(mapped(thrown)).toEqual({ code: 'INTERNAL', status: 500, message: 'internal error' });
    }
  });

  it('returns an ApiError unchanged (its code, message and headers)', () => {
    const error = new ApiError('FORBIDDEN', 'an admin key is required', { headers: { 'x-a': '1' } });
    expect(toApiError(error)).toBe(error);
  });
});

describe('errorResponse', () => {
  it('answers JSON { error: { code, message } } and nothing else, with the code status', async () => {
    expect(await respond(new ApiError('TOO_MANY_IMAGES', 'at most 16 images per request, got 17'))).toEqual({
      status: 400,
      type: 'application/json',
      challenge: null,
      body: { error: { code: 'TOO_MANY_IMAGES', message: 'at most 16 images per request, got 17' } },
    });
    expect(await respond(new Error('boom at /srv/x'))).toMatchObject({ status: 500, body: { error: { code: 'INTERNAL', message: 'internal error' } } });
  });

  it('sends the error’s headers (a Bearer challenge with 401)', async () => {
    expect(await respond(new ApiError('UNAUTHORIZED', 'an API key is required', { headers: { 'WWW-Authenticate': 'Bearer realm="twinsearch"' } }))).toMatchObject({
      status: 401,
      challenge: 'Bearer realm="twinsearch"',
      body: { error: { code: 'UNAUTHORIZED' } },
    });
  });
});

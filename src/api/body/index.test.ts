import { describe, expect, it } from 'vitest';
import { failure } from '../../../test/fixtures/api.js';
import { decodeBase64, parseBody, readBodyLimited, requestLimit } from './index.js';

/** A request whose body is `chunks` chunks of `size` bytes, counting how many were pulled. */
function streamingRequest(chunks: number, size: number, headers: Record<string, string> = {}): { request: Request; pulled: () => number } {
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled === chunks) return controller.close();
      pulled++;
      controller.enqueue(new Uint8Array(size).fill(1));
    },
  });
  return { request: new Request('http://x/', { method: 'POST', body, headers, duplex: 'half' } as RequestInit), pulled: () => pulled };
}


describe('readBodyLimited', () => {
  it('reads a body within the limit', async () => {
    const { request } = streamingRequest(4, 100);
    expect((await readBodyLimited(request, 400)).byteLength).toBe(400);
  });

  it('stops reading as soon as the bytes read pass the limit, without Content-Length', async () => {
    const { request, pulled } = streamingRequest(1000, 1024);
    expect(await failure(readBodyLimited(request, 10 * 1024))).toBe('413 PAYLOAD_TOO_LARGE');
    expect(pulled()).toBeLessThan(20);
  });

  it('does not trust a small Content-Length: the bytes are counted', async () => {
    const { request } = streamingRequest(50, 1024, { 'content-length': '10' });
    expect(await failure(readBodyLimited(request, 4096))).toBe('413 PAYLOAD_TOO_LARGE');
  });

  it('refuses a large declared Content-Length before reading', async () => {
    const { request, pulled } = streamingRequest(50, 1024, { 'content-length': '51200' });
    expect(await failure(readBodyLimited(request, 4096))).toBe('413 PAYLOAD_TOO_LARGE');
    expect(pulled()).toBeLessThanOrEqual(1);
  });
});

describe('parseBody', () => {
  it('parses JSON, multipart and raw bodies by Content-Type', async () => {
    const json = await parseBody(new Request('http://x/', { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json; charset=utf-8' } }), 1000);
    expect(json).toMatchObject({ kind: 'json', json: { a: 1 } });
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array([1, 2, 3])]), 'x.png');
    const parsed = await parseBody(new Request('http://x/', { method: 'POST', body: form }), 1000);
    expect(parsed.kind).toBe('form');
    if (parsed.kind === 'form') expect(new Uint8Array(await (parsed.form.get('image') as File).arrayBuffer())).toEqual(new Uint8Array([1, 2, 3]));
    const raw = await parseBody(new Request('http://x/', { method: 'POST', body: new Uint8Array([9, 9]), headers: { 'content-type': 'image/svg+xml' } }), 1000);
    expect(raw).toMatchObject({ kind: 'raw', bytes: 2 });
  });

  it('refuses bad JSON and bad multipart with 400', async () => {
    expect(await failure(parseBody(new Request('http://x/', { method: 'POST', body: '{', headers: { 'content-type': 'application/json' } }), 100))).toBe('400 INVALID_BODY');
    expect(await failure(parseBody(new Request('http://x/', { method: 'POST', body: 'junk', headers: { 'content-type': 'multipart/form-data; boundary=zzz' } }), 100))).toBe('400 INVALID_BODY');
  });
});

describe('decodeBase64', () => {
  it('accepts standard, URL-safe, unpadded, wrapped and data: URL base64', () => {
    const bytes = new Uint8Array([0xfb, 0xff, 0x00, 0x10]);
    for (const text of ['+/8AEA==', '-_8AEA==', '+/8AEA', '+/8A\nEA==', 'data:image/png;base64,+/8AEA==']) expect(decodeBase64(text, 'image')).toEqual(bytes);
  });

  it('refuses anything else with 400', async () => {
    for (const text of ['not base64!', 'abcde', '+/8A-_==', '====']) expect(await failure(Promise.resolve().then(() => decodeBase64(text, 'image')))).toBe('400 INVALID_BASE64');
    expect(await failure(Promise.resolve().then(() => decodeBase64(42, 'image')))).toBe('400 INVALID_PARAMETER');
    expect(await failure(Promise.resolve().then(() => decodeBase64('', 'image')))).toBe('400 MISSING_IMAGE');
  });
});

describe('requestLimit', () => {
  it('budgets base64 images plus an envelope, capped', () => {
    expect(requestLimit(1, 3000, 1e9)).toBe(4000 + 64 * 1024);
    expect(requestLimit(100, 5e6, 32e6)).toBe(32e6);
  });
});

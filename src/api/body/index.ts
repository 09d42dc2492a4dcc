/**
 * Reading request bodies safely: the byte limit is enforced on the bytes actually read from the
 * stream (a lying or absent Content-Length changes nothing), reading stops as soon as the limit
 * is passed, and images arrive as multipart parts, a raw body or base64 inside JSON.
 */
import { ApiError } from '../errors/index.js';

export type ParsedBody =
  | { kind: 'json'; json: unknown; bytes: number }
  | { kind: 'form'; form: FormData; bytes: number }
  | { kind: 'raw'; raw: Uint8Array; bytes: number };

const tooLarge = (limit: number): ApiError => new ApiError('PAYLOAD_TOO_LARGE', `the request body is larger than ${limit} bytes`);

/**
 * Reads the whole body, failing with 413 as soon as more than `limit` bytes have arrived (and
 * before reading anything when Content-Length already says so). The stream is cancelled on
 * failure so the server stops pulling data.
 *
 * @example
 * const bytes = await readBodyLimited(c.req.raw, 5 * 1024 * 1024);
 */
export async function readBodyLimited(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > limit) {
    await request.body?.cancel().catch(() => undefined);
    throw tooLarge(limit);
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(limit);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** The media type of a Content-Type header, lower-case, without parameters. */
export function mediaType(contentType: string | null | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

/**
 * Reads the body (limited) and parses it by Content-Type: JSON, multipart form, or anything
 * else as raw bytes (the image format is later detected from the bytes, never from this header).
 *
 * @example
 * const body = await parseBody(c.req.raw, config.maxRequestBytes);
 * if (body.kind === 'raw') images = [body.raw];
 */
export async function parseBody(request: Request, limit: number): Promise<ParsedBody> {
  const type = mediaType(request.headers.get('content-type'));
  const bytes = await readBodyLimited(request, limit);
  if (type === 'application/json' || type.endsWith('+json')) {
    try {
      return { kind: 'json', json: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)), bytes: bytes.byteLength };
    } catch (error) {
      throw new ApiError('INVALID_BODY', 'the body is not valid JSON', { cause: error });
    }
  }
  if (type === 'multipart/form-data') {
    try {
      const form = await new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': request.headers.get('content-type') ?? '' } }).formData();
      return { kind: 'form', form, bytes: bytes.byteLength };
    } catch (error) {
      throw new ApiError('INVALID_BODY', 'the multipart body cannot be parsed', { cause: error });
    }
  }
  return { kind: 'raw', raw: bytes, bytes: bytes.byteLength };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Strict base64 (standard or URL-safe alphabet, optional `data:…;base64,` prefix, whitespace
 * ignored) to bytes; anything else is a 400 `INVALID_BASE64`.
 *
 * @example
 * decodeBase64('data:image/png;base64,iVBORw0KGgo=', 'image') // Uint8Array [137, 80, 78, 71, 13, 10, 26, 10]
 */
export function decodeBase64(value: unknown, what: string): Uint8Array {
  if (typeof value !== 'string') throw new ApiError('INVALID_PARAMETER', `${what} must be a base64 string`);
  let text = value;
  const dataUrl = /^data:[^,]*;base64,/i.exec(text);
  if (dataUrl) text = text.slice(dataUrl[0].length);
  text = text.replace(/\s+/g, '');
  if (text.length === 0) throw new ApiError('MISSING_IMAGE', `${what} is empty`);
  if (!(BASE64.test(text) || BASE64URL.test(text)) || text.length % 4 === 1) {
    throw new ApiError('INVALID_BASE64', `${what} is not valid base64`);
  }
  const bytes = Buffer.from(text, BASE64.test(text) ? 'base64' : 'base64url');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Throws 413 when one image is larger than the per-image byte limit. */
export function checkImageBytes(bytes: Uint8Array, limit: number, what = 'the image'): Uint8Array {
  if (bytes.byteLength > limit) throw new ApiError('PAYLOAD_TOO_LARGE', `${what} is larger than ${limit} bytes`);
  return bytes;
}

/**
 * The file parts named `field` of a multipart form, as bytes (text parts are refused: an image
 * must be uploaded as a file).
 *
 * @example
 * const [image] = await formFiles(form, 'image');
 */
export async function formFiles(form: FormData, field: string): Promise<Uint8Array[]> {
  const parts = form.getAll(field);
  const out: Uint8Array[] = [];
  for (const part of parts) {
    if (typeof part === 'string') throw new ApiError('INVALID_BODY', `multipart field "${field}" must be a file, not text`);
    out.push(new Uint8Array(await part.arrayBuffer()));
  }
  return out;
}

/** Byte budget of a request carrying `images` images (base64 inflates by 4/3) plus envelope. */
export function requestLimit(images: number, maxImageBytes: number, maxRequestBytes: number): number {
  return Math.min(maxRequestBytes, Math.ceil((images * maxImageBytes * 4) / 3) + 64 * 1024);
}

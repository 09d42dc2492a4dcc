/**
 * The hostile-input corpus: requests an attacker, a buggy client or a broken network can send,
 * each with the documented answer (status + error code, docs/api.md "Errors"). Generated
 * deterministically from a seed; nothing of it is committed but this generator.
 */
import sharp from 'sharp';
import { createRng } from '../../src/data/rng.js';
import { gifWithDimensions, jpegWithDimensions, noise, pngHeaderBomb, pngIdatBomb, randomBytes } from './images.js';
import { multipart } from './multipart.js';

/** One hostile request and the answer the API documents for it. */
export interface HostileCase {
  name: string;
  /** What the case attacks (for the report): body, image, bomb, json, multipart, base64, identity, parameter, auth, route, size. */
  group: string;
  method: 'GET' | 'POST' | 'DELETE';
  /** Path and query, sent as is (percent-encoding included). */
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array;
  /** Send the body with `Transfer-Encoding: chunked` in 64 KiB chunks (no Content-Length). */
  chunked?: boolean;
  /** Send this Content-Length instead of the body's real length (a lying client; the socket is closed after the answer). */
  declaredLength?: number;
  /** The documented answer: a status, and the JSON error code for 4xx/5xx. */
  expect: { status: number; code?: string };
}

export interface CorpusOptions {
  seed?: number;
  readKey: string;
  adminKey: string;
  /** The server's limits (defaults: the documented ones). */
  maxImageBytes?: number;
  maxRequestBytes?: number;
  maxBatch?: number;
  maxEnrolImages?: number;
  /** The model's input size (default 28x28, the sample model's): PNGs of this size take the JavaScript decode path. */
  inputSize?: { width: number; height: number };
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/**
 * Builds the corpus (pure apart from sharp encoding a few images; same seed, same bytes).
 *
 * @example
 * const cases = await buildHostileCorpus({ readKey: READ_KEY, adminKey: ADMIN_KEY });
 * cases.find((c) => c.name === 'png-bomb-100000x100000')?.expect // { status: 413, code: 'IMAGE_TOO_LARGE' }
 */
export async function buildHostileCorpus(options: CorpusOptions): Promise<HostileCase[]> {
  const rng = createRng(options.seed ?? 1);
  const maxImageBytes = options.maxImageBytes ?? 5 * 1024 * 1024;
  const maxRequestBytes = options.maxRequestBytes ?? 32 * 1024 * 1024;
  const maxBatch = options.maxBatch ?? 16;
  const maxEnrol = options.maxEnrolImages ?? 32;
  const singleImageLimit = Math.min(maxRequestBytes, Math.ceil((maxImageBytes * 4) / 3) + 64 * 1024);
  const read = { authorization: `Bearer ${options.readKey}` };
  const admin = { authorization: `Bearer ${options.adminKey}` };
  const raw = (type = 'application/octet-stream') => ({ ...read, 'content-type': type });
  const json = { ...read, 'content-type': 'application/json' };
  const cases: HostileCase[] = [];
  const add = (c: HostileCase): void => {
    cases.push(c);
  };
  const search = (name: string, group: string, body: Uint8Array | undefined, expect: HostileCase['expect'], headers: Record<string, string> = raw(), path = '/v1/search'): void =>
    add({ name, group, method: 'POST', path, headers, body, expect });
  const err = (status: number, code: string): HostileCase['expect'] => ({ status, code });
  const OK = { status: 200 };

  // Reference images: 64x64 noise in every accepted format, plus a few valid oddities.
  const pixels = noise(rng, 64, 64);
  const rawInput = { raw: { width: 64, height: 64, channels: 3 as const } };
  const png = new Uint8Array(await sharp(pixels, rawInput).png().toBuffer());
  const jpeg = new Uint8Array(await sharp(pixels, rawInput).jpeg({ quality: 90 }).toBuffer());
  const webp = new Uint8Array(await sharp(pixels, rawInput).webp({ quality: 90 }).toBuffer());
  const gif = new Uint8Array(await sharp(pixels, rawInput).gif().toBuffer());
  const frames = await Promise.all([0, 1, 2].map(() => sharp(noise(rng, 32, 32), { raw: { width: 32, height: 32, channels: 3 } }).png().toBuffer()));
  const animatedGif = new Uint8Array(await sharp(frames, { join: { animated: true } }).gif({ loop: 0, delay: 100 }).toBuffer());
  const png16 = new Uint8Array(await sharp(pixels, rawInput).toColourspace('rgb16').png().toBuffer());
  const cmykJpeg = new Uint8Array(await sharp(pixels, rawInput).toColourspace('cmyk').jpeg().toBuffer());
  const onePixel = new Uint8Array(await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } }).png().toBuffer());
  // A real zlib bomb: 5000x5000 zeros compress to a few KiB, 25 M pixels decoded (limit 16.7 M).
  const zeroBomb = new Uint8Array(await sharp({ create: { width: 5000, height: 5000, channels: 3, background: '#000' } }).greyscale().png({ compressionLevel: 9 }).toBuffer());
  const svg = enc('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><image href="file:///etc/passwd"/><rect width="64" height="64"/></svg>');

  // Bodies.
  search('empty-body', 'body', new Uint8Array(0), err(400, 'MISSING_IMAGE'));
  search('no-body-no-content-type', 'body', undefined, err(400, 'MISSING_IMAGE'), { ...read });
  for (const n of [1, 16, 4096]) search(`random-bytes-${n}`, 'body', randomBytes(rng, n), err(415, 'UNSUPPORTED_IMAGE'));
  search('text-body', 'body', enc('hello, I am not an image'), err(415, 'UNSUPPORTED_IMAGE'), raw('text/plain'));

  // Valid images, baseline and oddities (documented as accepted).
  for (const [name, bytes] of [['png', png], ['jpeg', jpeg], ['webp', webp], ['gif', gif]] as const) search(`valid-${name}`, 'image', bytes, OK);
  search('animated-gif', 'image', animatedGif, OK);
  search('png-16-bit', 'image', png16, OK);
  search('jpeg-cmyk', 'image', cmykJpeg, OK);
  search('image-1x1', 'image', onePixel, err(422, 'IMAGE_TOO_SMALL'));
  search('svg', 'image', svg, err(415, 'UNSUPPORTED_IMAGE'), raw('image/svg+xml'));
  search('svg-with-bom-and-space', 'image', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('  \n'), svg]), err(415, 'UNSUPPORTED_IMAGE'));

  // Truncations: after the signature, in the header, and inside the pixel data.
  for (const [name, bytes] of [['png', png], ['jpeg', jpeg], ['webp', webp], ['gif', gif]] as const) {
    for (const cut of [16, 0.25, 0.5, 0.9]) {
      const at = cut < 1 ? Math.floor(bytes.length * cut) : cut;
      search(`truncated-${name}-${cut < 1 ? `${cut * 100}pct` : `${at}b`}`, 'image', bytes.subarray(0, at), err(415, 'UNDECODABLE_IMAGE'));
    }
  }
  // Wrong magic bytes: a damaged signature, or one format's signature on another's data.
  search('png-first-byte-zeroed', 'image', Uint8Array.from([0, ...png.subarray(1)]), err(415, 'UNSUPPORTED_IMAGE'));
  search('jpeg-data-with-png-magic', 'image', Buffer.concat([png.subarray(0, 8), jpeg.subarray(8)]), err(415, 'UNDECODABLE_IMAGE'));
  search('png-data-with-jpeg-magic', 'image', Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), png.subarray(3)]), err(415, 'UNDECODABLE_IMAGE'));
  search('gif-magic-then-random', 'image', Buffer.concat([enc('GIF89a'), randomBytes(rng, 200)]), err(415, 'UNDECODABLE_IMAGE'));
  search('riff-webp-magic-then-random', 'image', Buffer.concat([enc('RIFF'), Buffer.from([0, 1, 0, 0]), enc('WEBP'), randomBytes(rng, 200)]), err(415, 'UNDECODABLE_IMAGE'));
  search('heic-brand', 'image', Buffer.concat([Buffer.from([0, 0, 0, 24]), enc('ftypheic'), Buffer.from([0, 0, 0, 0]), enc('mif1heic'), randomBytes(rng, 64)]), err(415, 'UNSUPPORTED_IMAGE'));
  search('bmp', 'image', Buffer.concat([enc('BM'), randomBytes(rng, 120)]), err(415, 'UNSUPPORTED_IMAGE'));

  // Decompression bombs: huge declared dimensions, refused from the header.
  search('png-bomb-100000x100000', 'bomb', pngHeaderBomb(100_000, 100_000), err(413, 'IMAGE_TOO_LARGE'));
  // libspng refuses a height this far past its own limit as a corrupt header: refused before decoding all the same.
  search('png-bomb-1x2147483647', 'bomb', pngHeaderBomb(1, 0x7fffffff), err(415, 'UNDECODABLE_IMAGE'));
  search('png-zlib-bomb-5000x5000', 'bomb', zeroBomb, err(413, 'IMAGE_TOO_LARGE'));
  // The model's own size in the header (the sharp-free path), but 200 MB of zlib zeros behind it: only the rows
  // the header promises are decoded, so it is an ordinary image (sharp reads it; the JS path declines it).
  const input = options.inputSize ?? { width: 28, height: 28 };
  search(`png-idat-bomb-at-input-size-${input.width}x${input.height}`, 'bomb', pngIdatBomb(input.width, input.height, 200_000_000), OK);
  search('jpeg-sof-65000x65000', 'bomb', jpegWithDimensions(jpeg, 65_000, 65_000), err(413, 'IMAGE_TOO_LARGE'));
  search('gif-65535x65535', 'bomb', gifWithDimensions(gif, 65_535, 65_535), err(413, 'IMAGE_TOO_LARGE'));

  // Sizes: one image over the per-image limit, bodies over the request limit (declared, lying, chunked).
  const big = new Uint8Array(maxImageBytes + 1);
  big.set(png.subarray(0, 64));
  search('image-over-byte-limit', 'size', big, err(413, 'PAYLOAD_TOO_LARGE'));
  search('json-image-over-byte-limit', 'size', enc(JSON.stringify({ image: b64(big) })), err(413, 'PAYLOAD_TOO_LARGE'), json);
  const overBody = new Uint8Array(singleImageLimit + 1);
  overBody.set(png.subarray(0, 64));
  search('body-over-request-limit-declared', 'size', overBody, err(413, 'PAYLOAD_TOO_LARGE'));
  add({ name: 'content-length-lies-huge', group: 'size', method: 'POST', path: '/v1/search', headers: raw(), body: png, declaredLength: 1_000_000_000, expect: err(413, 'PAYLOAD_TOO_LARGE') });
  add({ name: 'chunked-over-request-limit', group: 'size', method: 'POST', path: '/v1/search', headers: raw(), body: overBody, chunked: true, expect: err(413, 'PAYLOAD_TOO_LARGE') });
  add({ name: 'chunked-valid-image', group: 'size', method: 'POST', path: '/v1/search', headers: raw(), body: png, chunked: true, expect: OK });

  // JSON.
  search('json-valid-base64', 'json', enc(JSON.stringify({ image: b64(png), k: 3 })), OK, json);
  search('json-data-url', 'json', enc(JSON.stringify({ image: `data:image/png;base64,${b64(png)}` })), OK, json);
  search('json-malformed', 'json', enc('{"image": "iVBOR'), err(400, 'INVALID_BODY'), json);
  search('json-trailing-garbage', 'json', enc('{"image": "aaaa"} xyz'), err(400, 'INVALID_BODY'), json);
  search('json-invalid-utf8', 'json', Uint8Array.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), err(400, 'INVALID_BODY'), json);
  search('json-null', 'json', enc('null'), err(400, 'INVALID_BODY'), json);
  search('json-array', 'json', enc('[1,2,3]'), err(400, 'INVALID_BODY'), json);
  search('json-image-number', 'json', enc('{"image": 42}'), err(400, 'INVALID_BODY'), json);
  // A JSON body without its required field is INVALID_BODY ("missing JSON fields"), as is an empty string there.
  search('json-no-image', 'json', enc('{"k": 3}'), err(400, 'INVALID_BODY'), json);
  search('json-deeply-nested-array-100k', 'json', enc(`{"image":${'['.repeat(100_000)}${']'.repeat(100_000)}}`), err(400, 'INVALID_BODY'), json);
  search('json-deeply-nested-object-20k', 'json', enc(`{"image":"${b64(png)}","x":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}`), OK, json);
  search('json-proto-pollution', 'json', enc(`{"__proto__":{"k":1000},"constructor":{"prototype":{"k":1000}},"image":"${b64(png)}"}`), OK, json);
  search('json-k-1e309', 'parameter', enc(`{"image":"${b64(png)}","k":1e309}`), err(400, 'INVALID_PARAMETER'), json);
  search('json-k-string', 'parameter', enc(JSON.stringify({ image: b64(png), k: 'five' })), err(400, 'INVALID_PARAMETER'), json);
  search('json-as-raw-image', 'json', png, err(400, 'INVALID_BODY'), json);

  // Base64.
  for (const [name, value] of [['bad-alphabet', '!!!!not*base64!!!!'], ['length-mod-4-is-1', 'aGVsbG8hx'], ['mixed-alphabets', 'ab+_cd=='], ['padding-in-middle', 'aGV=sbG8=']] as const) {
    search(`base64-${name}`, 'base64', enc(JSON.stringify({ image: value })), err(400, 'INVALID_BASE64'), json);
  }
  search('base64-empty', 'base64', enc('{"image": ""}'), err(400, 'INVALID_BODY'), json);
  search('base64-of-svg', 'base64', enc(JSON.stringify({ image: `data:image/svg+xml;base64,${b64(svg)}` })), err(415, 'UNSUPPORTED_IMAGE'), json);

  // Multipart.
  const boundary = 'hostile-boundary-7MA4YWxkTrZu0gW';
  const form = (parts: Parameters<typeof multipart>[1]) => multipart(boundary, parts);
  const formHeaders = { ...read, 'content-type': `multipart/form-data; boundary=${boundary}` };
  search('multipart-valid', 'multipart', form([{ name: 'image', filename: 'a.png', type: 'image/png', data: png }]), OK, formHeaders);
  search('multipart-without-image-field', 'multipart', form([{ name: 'picture', filename: 'a.png', data: png }]), err(400, 'MISSING_IMAGE'), formHeaders);
  search('multipart-image-as-text', 'multipart', form([{ name: 'image', data: 'not a file' }]), err(400, 'INVALID_BODY'), formHeaders);
  search('multipart-5000-text-parts', 'multipart', form(Array.from({ length: 5000 }, (_, i) => ({ name: `f${i}`, data: 'x' }))), err(400, 'MISSING_IMAGE'), formHeaders);
  search('multipart-200-image-parts', 'multipart', form(Array.from({ length: 200 }, (_, i) => ({ name: 'image', filename: `${i}.png`, data: png }))), err(400, 'TOO_MANY_IMAGES'), formHeaders);
  search('multipart-no-boundary', 'multipart', form([{ name: 'image', filename: 'a.png', data: png }]), err(400, 'INVALID_BODY'), { ...read, 'content-type': 'multipart/form-data' });
  search('multipart-wrong-boundary', 'multipart', form([{ name: 'image', filename: 'a.png', data: png }]), err(400, 'INVALID_BODY'), { ...read, 'content-type': 'multipart/form-data; boundary=other' });
  search('multipart-unterminated', 'multipart', form([{ name: 'image', filename: 'a.png', data: png }]).subarray(0, 200), err(400, 'INVALID_BODY'), formHeaders);

  // Query parameters.
  for (const [name, query] of [
    ['k-0', 'k=0'],
    ['k-minus-1', 'k=-1'],
    ['k-1e9', 'k=1000000000'],
    ['k-NaN', 'k=NaN'],
    ['k-1.5', 'k=1.5'],
    ['k-empty', 'k='],
    ['threshold-0', 'threshold=0'],
    ['threshold-minus-1', 'threshold=-1'],
    ['threshold-4.01', 'threshold=4.01'],
    ['threshold-NaN', 'threshold=NaN'],
    ['threshold-Infinity', 'threshold=Infinity'],
    ['level-bogus', 'level=pixels'],
  ] as const) {
    search(`query-${name}`, 'parameter', png, err(400, 'INVALID_PARAMETER'), raw(), `/v1/search?${query}`);
  }
  search('query-k-100-threshold-4', 'parameter', png, OK, raw(), '/v1/search?k=100&threshold=4&level=image');
  search('verify-threshold-5', 'parameter', enc(JSON.stringify({ imageA: b64(png), imageB: b64(jpeg), threshold: 5 })), err(400, 'INVALID_PARAMETER'), json, '/v1/verify');
  add({ name: 'gallery-limit-0', group: 'parameter', method: 'GET', path: '/v1/gallery?limit=0', headers: read, expect: err(400, 'INVALID_PARAMETER') });
  add({ name: 'gallery-limit-1e9', group: 'parameter', method: 'GET', path: '/v1/gallery?limit=1000000000', headers: read, expect: err(400, 'INVALID_PARAMETER') });
  add({ name: 'gallery-cursor-garbage', group: 'parameter', method: 'GET', path: '/v1/gallery?cursor=%00%FF%FE', headers: read, expect: err(400, 'INVALID_PARAMETER') });
  // A cursor of valid characters this API never returned.
  add({ name: 'gallery-cursor-not-ours', group: 'parameter', method: 'GET', path: '/v1/gallery?cursor=zzz', headers: read, expect: err(400, 'INVALID_PARAMETER') });

  // Other routes' bodies.
  search('batch-too-many', 'body', enc(JSON.stringify({ images: Array.from({ length: maxBatch + 1 }, () => b64(png)) })), err(400, 'TOO_MANY_IMAGES'), json, '/v1/search/batch');
  search('batch-one-bad-image', 'body', enc(JSON.stringify({ images: [b64(png), b64(svg)] })), OK, json, '/v1/search/batch');
  // One entry that is not base64 at all: that entry's error, the others' results.
  search('batch-one-bad-base64', 'body', enc(JSON.stringify({ images: [b64(png), '!!! not base64 !!!'] })), OK, json, '/v1/search/batch');
  search('batch-raw-body', 'body', png, err(400, 'INVALID_BODY'), raw(), '/v1/search/batch');
  search('verify-raw-body', 'body', png, err(400, 'INVALID_BODY'), raw(), '/v1/verify');
  search('verify-one-image', 'body', form([{ name: 'image_a', filename: 'a.png', data: png }]), err(400, 'MISSING_IMAGE'), formHeaders, '/v1/verify');
  search('embed-truncated', 'body', png.subarray(0, 100), err(415, 'UNDECODABLE_IMAGE'), raw(), '/v1/embed');

  // Identity names in the path (admin enrolment).
  const enrol = (name: string, path: string, expect: HostileCase['expect'], body: Uint8Array = png): void =>
    add({ name, group: 'identity', method: 'POST', path: `/v1/gallery/${path}`, headers: { ...admin, 'content-type': 'image/png' }, body, expect });
  enrol('identity-dotdot-encoded', '..%2F..%2Fetc%2Fpasswd', err(400, 'INVALID_IDENTITY'));
  enrol('identity-dotdot-segment', 'a%2F..%2Fb', err(400, 'INVALID_IDENTITY'));
  enrol('identity-dot', 'x%2F.', err(400, 'INVALID_IDENTITY'));
  enrol('identity-empty-segment', 'a%2F%2Fb', err(400, 'INVALID_IDENTITY'));
  enrol('identity-nul', 'a%00b', err(400, 'INVALID_IDENTITY'));
  enrol('identity-newline', 'a%0Ab', err(400, 'INVALID_IDENTITY'));
  enrol('identity-leading-space', '%20alice', err(400, 'INVALID_IDENTITY'));
  enrol('identity-201-chars', 'a'.repeat(201), err(400, 'INVALID_IDENTITY'));
  enrol('identity-8000-chars', 'b'.repeat(8000), err(400, 'INVALID_IDENTITY'));
  enrol('identity-bad-percent-encoding', '%FF%FE%ZZ', err(400, 'INVALID_IDENTITY'));
  enrol('identity-cut-utf8', 'x%E2%82', err(400, 'INVALID_IDENTITY'));
  enrol('identity-non-ascii', encodeURIComponent('Zoë/字母/🙂'), { status: 201 });
  enrol('identity-200-chars', 'c'.repeat(200), { status: 201 });
  enrol('identity-bad-image', 'valid-name', err(415, 'UNDECODABLE_IMAGE'), png.subarray(0, 40));
  enrol('identity-too-many-images', 'many', err(400, 'TOO_MANY_IMAGES'), form(Array.from({ length: maxEnrol + 1 }, (_, i) => ({ name: 'image', filename: `${i}.png`, data: png }))));
  cases[cases.length - 1].headers['content-type'] = formHeaders['content-type'];
  add({ name: 'identity-traversal-raw-path', group: 'identity', method: 'POST', path: '/v1/gallery/../../etc/passwd', headers: { ...admin, 'content-type': 'image/png' }, body: png, expect: err(400, 'INVALID_IDENTITY') });
  // Raw dot segments inside the identity are refused, never resolved (x/../y would enrol y).
  add({ name: 'identity-dotdot-raw-inside', group: 'identity', method: 'POST', path: '/v1/gallery/x/../y', headers: { ...admin, 'content-type': 'image/png' }, body: png, expect: err(400, 'INVALID_IDENTITY') });
  add({ name: 'identity-dot-raw-inside', group: 'identity', method: 'POST', path: '/v1/gallery/a/./b', headers: { ...admin, 'content-type': 'image/png' }, body: png, expect: err(400, 'INVALID_IDENTITY') });
  add({ name: 'identity-dotdot-percent-segment', group: 'identity', method: 'POST', path: '/v1/gallery/x/%2e%2e/y', headers: { ...admin, 'content-type': 'image/png' }, body: png, expect: err(400, 'INVALID_IDENTITY') });
  add({ name: 'delete-unknown-non-ascii', group: 'identity', method: 'DELETE', path: `/v1/gallery/${encodeURIComponent('ñobody-✓')}`, headers: admin, expect: err(404, 'UNKNOWN_IDENTITY') });
  add({ name: 'delete-nul', group: 'identity', method: 'DELETE', path: '/v1/gallery/%00', headers: admin, expect: err(400, 'INVALID_IDENTITY') });
  add({ name: 'thumbnail-traversal', group: 'identity', method: 'GET', path: '/v1/gallery/images/..%2F..%2Fetc%2Fpasswd/thumbnail', headers: read, expect: err(404, 'IMAGE_NOT_FOUND') });
  add({ name: 'thumbnail-huge-label', group: 'identity', method: 'GET', path: '/v1/gallery/images/99999999999999999999/thumbnail', headers: read, expect: err(404, 'IMAGE_NOT_FOUND') });

  // Auth and routing.
  search('auth-none', 'auth', png, err(401, 'UNAUTHORIZED'), { 'content-type': 'image/png' });
  search('auth-wrong-key', 'auth', png, err(401, 'UNAUTHORIZED'), { authorization: 'Bearer wrong-key-0123456789abcdef', 'content-type': 'image/png' });
  search('auth-basic-scheme', 'auth', png, err(401, 'UNAUTHORIZED'), { authorization: 'Basic YWRtaW46YWRtaW4=', 'content-type': 'image/png' });
  search('auth-8k-key', 'auth', png, err(401, 'UNAUTHORIZED'), { authorization: `Bearer ${'k'.repeat(8000)}`, 'content-type': 'image/png' });
  add({ name: 'auth-read-key-on-admin-route', group: 'auth', method: 'POST', path: '/v1/gallery/someone', headers: { ...read, 'content-type': 'image/png' }, body: png, expect: err(403, 'FORBIDDEN') });
  add({ name: 'route-get-search', group: 'route', method: 'GET', path: '/v1/search', headers: read, expect: err(404, 'NOT_FOUND') });
  add({ name: 'route-unknown', group: 'route', method: 'POST', path: '/v2/search', headers: raw(), body: png, expect: err(404, 'NOT_FOUND') });
  add({ name: 'route-encoded-traversal', group: 'route', method: 'GET', path: '/..%2F..%2Fetc%2Fpasswd', headers: read, expect: err(404, 'NOT_FOUND') });

  const names = new Set<string>();
  for (const c of cases) {
    if (names.has(c.name)) throw new Error(`duplicate case name ${c.name}`);
    names.add(c.name);
  }
  return cases;
}


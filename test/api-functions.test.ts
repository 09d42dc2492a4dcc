/**
 * The serverless entry points in functions/ — the AWS Lambda handler, the Workers module
 * (fetch + scheduled) and the Pages Function — called the way their platforms call them. They
 * share one runtime (one app) per process and configuration; each test starts without one (any
 * order runs the same), and the shared-runtime rule itself is tested last.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { handler, scheduled } from '../functions/lambda.js';
import { onRequest } from '../functions/api/[[route]].js';
import worker from '../functions/worker.js';
import { ConfigError } from '../src/api/config/index.js';
import { silentLogger } from '../src/api/log.js';
import { closeSharedRuntime, createRuntime, getRuntime } from '../src/api/runtime.js';
import { SearchResponseSchema } from '../src/api/schemas/index.js';
import { ADMIN_KEY, bearer, createFixture, READ_KEY, syntheticPng, type Fixture } from './fixtures/api.js';
import { functionUrlEvent as lambdaEvent, lambdaContext as functionUrlContext, scheduledEvent } from './fixtures/lambda-events.js';

let fx: Fixture;
let env: Record<string, unknown>;
const saved = { ...process.env };

beforeAll(async () => {
  fx = await createFixture({ identities: 3, perIdentity: 2 });
  env = fx.env({ API_KEYS: READ_KEY, ADMIN_KEYS: ADMIN_KEY, WATCH_INDEX: 'false', RELOAD_POLL_MS: '0' }) as Record<string, unknown>;
  for (const [k, v] of Object.entries(env)) process.env[k] = String(v);
});

afterEach(async () => {
  await closeSharedRuntime();
});

afterAll(async () => {
  process.env = saved;
  await fx?.cleanup();
});

const lambdaContext = functionUrlContext();

describe('serverless entry points', () => {
  it('AWS Lambda: a base64 image body in, JSON out; binary thumbnails go back base64-encoded', async () => {
    const res = await handler(lambdaEvent('POST', '/v1/search', { query: 'k=1', body: await syntheticPng(1001), headers: { ...bearer(READ_KEY), 'content-type': 'image/png' } }), lambdaContext);
    expect(res.statusCode).toBe(200);
    const body = SearchResponseSchema.parse(JSON.parse(res.body));
    expect(body.decision).toMatchObject({ identity: 'id001', match: true });
    const thumb = await handler(lambdaEvent('GET', body.matches[0].image.thumbnail, { headers: bearer(READ_KEY) }), lambdaContext);
    expect(thumb).toMatchObject({ statusCode: 200, isBase64Encoded: true });
    expect(Buffer.from(thumb.body, 'base64').subarray(1, 4).toString()).toBe('PNG');
    expect((await handler(lambdaEvent('POST', '/v1/search', { body: await syntheticPng(1) }), lambdaContext)).statusCode).toBe(401);
  });

  it('AWS Lambda: behind a function URL with AWS_IAM auth (SigV4 in Authorization), the key travels in X-Api-Key', async () => {
    const signed = { authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261205/eu-west-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc', 'x-amz-date': '20261205T030000Z' };
    const res = await handler(lambdaEvent('POST', '/v1/search', { query: 'k=1', body: await syntheticPng(2001), headers: { ...signed, 'x-api-key': READ_KEY } }), lambdaContext);
    expect({ status: res.statusCode, identity: (JSON.parse(res.body) as { decision?: { identity?: string } }).decision?.identity }).toEqual({ status: 200, identity: 'id002' });
    expect((await handler(lambdaEvent('POST', '/v1/gallery/id000', { body: await syntheticPng(3), headers: { ...signed, 'x-api-key': READ_KEY } }), lambdaContext)).statusCode).toBe(403);
  });

  it('Workers module: fetch serves the same app; scheduled re-indexes through waitUntil', async () => {
    const waits: Promise<unknown>[] = [];
    const ctx = { waitUntil: (p: Promise<unknown>) => void waits.push(p), passThroughOnException: () => {} };
    const res = await worker.fetch(new Request('http://worker/v1/search?k=1', { method: 'POST', body: await syntheticPng(2000), headers: bearer(READ_KEY) }), env, ctx);
    expect(SearchResponseSchema.parse(await res.json()).decision.identity).toBe('id002');

    await writeFile(join(fx.galleryDir, 'id000', 'late.png'), await syntheticPng(4242));
    const before = ((await (await worker.fetch(new Request('http://worker/v1/index', { headers: bearer(READ_KEY) }), env, ctx)).json()) as { images: number }).images;
    await worker.scheduled({ cron: '0 3 * * *', scheduledTime: Date.now() }, env, ctx);
    expect(waits).toHaveLength(1);
    await Promise.all(waits);
    const after = ((await (await worker.fetch(new Request('http://worker/v1/index', { headers: bearer(READ_KEY) }), env, ctx)).json()) as { images: number }).images;
    expect(after).toBe(before + 1);
  });

  it('AWS Lambda: scheduled (an EventBridge schedule event) re-indexes to the end within the invocation and returns the summary', async () => {
    await writeFile(join(fx.galleryDir, 'id001', 'nightly.png'), await syntheticPng(4343));
    const result = await scheduled(scheduledEvent());
    expect(result).toMatchObject({ published: true, summary: { added: 1, removed: 0 } });
    const res = await handler(lambdaEvent('POST', '/v1/search', { query: 'k=1', body: await syntheticPng(4343), headers: bearer(READ_KEY) }), lambdaContext);
    expect(JSON.parse(res.body)).toMatchObject({ decision: { identity: 'id001', match: true }, matches: [{ image: { source: 'id001/nightly.png' } }] });
  });

  it('Pages Function: /api/* reaches the app with the prefix removed', async () => {
    const context = (request: Request) => ({
      request,
      env,
      params: {},
      data: {},
      functionPath: '/api/[[route]]',
      waitUntil: () => {},
      passThroughOnException: () => {},
      next: async () => new Response('static asset', { status: 200 }),
    });
    const health = await onRequest(context(new Request('http://pages/api/healthz')) as unknown as Parameters<typeof onRequest>[0]);
    expect(await health.json()).toEqual({ status: 'ok' });
    const res = await onRequest(context(new Request('http://pages/api/v1/search?k=1', { method: 'POST', body: await syntheticPng(1000), headers: bearer(READ_KEY) })) as unknown as Parameters<typeof onRequest>[0]);
    expect(res.status).toBe(200);
    expect(SearchResponseSchema.parse(await res.json()).decision.identity).toBe('id001');
  });

  it('AWS Lambda: "." and ".." in the event\'s raw path are refused on gallery paths, not resolved', async () => {
    const res = await handler(lambdaEvent('POST', '/v1/gallery/x/../y', { body: await syntheticPng(5), headers: { ...bearer(ADMIN_KEY), 'content-type': 'image/png' } }), lambdaContext);
    expect({ status: res.statusCode, body: JSON.parse(res.body) as unknown }).toMatchObject({ status: 400, body: { error: { code: 'INVALID_IDENTITY' } } });
  });

  it('one runtime per process and configuration: the same values share it, other values are refused until it is closed', async () => {
    const first = await getRuntime(env);
    // Other objects with the same values (process.env holds them too, as the Lambda entry passes it): the same runtime.
    expect(await getRuntime({ ...env, UNRELATED: 'ignored' })).toBe(first);
    expect(await getRuntime(process.env)).toBe(first);
    const refused = async (other: Record<string, unknown>) => (await getRuntime(other).then(() => null, (e: unknown) => e)) as Error | null;
    const changedK = await refused({ ...env, DEFAULT_K: '2' });
    expect(changedK).toBeInstanceOf(ConfigError);
    expect(changedK?.message).toContain('DEFAULT_K differ');
    const rotated = await refused({ ...env, API_KEYS: 'another-read-key-0123456789' });
    expect(rotated?.message).toContain('API_KEYS differ');
    expect(rotated?.message).not.toContain('another-read-key'); // key names, never values
    expect((await first.app.request('/healthz')).status).toBe(200); // the first keeps serving
    await closeSharedRuntime();
    const second = await getRuntime({ ...env, DEFAULT_K: '2' });
    expect(second).not.toBe(first);
    expect(second.config.defaultK).toBe(2);
  });

  it('a failed build is not kept: the next request builds again', async () => {
    const { API_KEYS: _r, ADMIN_KEYS: _a, ...open } = env;
    await expect(getRuntime(open)).rejects.toThrow(ConfigError);
    expect((await getRuntime(env)).config.readKeys).toEqual([READ_KEY]);
  });

  it('serverless runtimes refuse to start without API keys', async () => {
    const { API_KEYS: _r, ADMIN_KEYS: _a, ...open } = env;
    await expect(createRuntime(open, { log: silentLogger })).rejects.toThrow(ConfigError);
  });
});

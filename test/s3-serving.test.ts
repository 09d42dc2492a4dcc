/**
 * Two serving instances (each its own scratch space) over one deployment in object storage:
 * model, index and gallery (folder + store) all under s3:// URIs on a real S3 API server.
 * Cold start from the bucket, an enrolment on one instance found on the other within the poll
 * interval and kept by the next re-index, a deletion likewise, and a snapshot that fails
 * verification leaving the previous one serving with /readyz saying so.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/api/log.js';
import { createRuntime, type Runtime } from '../src/api/runtime.js';
import { runScheduledReindex } from '../src/api/scheduled.js';
import { IndexInfoSchema, ReadySchema, SearchResponseSchema } from '../src/api/schemas/index.js';
import type { LocalHnswStore } from '../src/index/local-store.js';
import { nextVersionName } from '../src/index/version.js';
import { ObjectBucket } from '../src/storage/bucket.js';
import { parseObjectUri } from '../src/storage/location.js';
import { ObjectSnapshots, snapshotId } from '../src/storage/snapshots.js';
import { ADMIN_KEY, bearer, createFixture, READ_KEY, syntheticPng, type Fixture } from './fixtures/api.js';
import { uploadFolder } from './fixtures/s3.js';
import { useS3 } from './fixtures/s3-env.js';

const s3 = useS3();
const POLL_MS = 200;
/**
 * How long after its poll interval an instance may take to apply what it polled (list the journal,
 * fetch the record and the image, embed it; or download and open a snapshot): a few ms on an idle
 * machine, seconds on a shared one. Without polling nothing is ever seen, whatever the slack.
 */
const SLACK_MS = 5000;
let fx: Fixture;
let env: Record<string, string>;
const runtimes: Runtime[] = [];
let a: Runtime;
let b: Runtime;

/** A runtime as a separate instance would run it: its own scratch space (TMPDIR). */
async function instance(name: string): Promise<Runtime> {
  process.env.TMPDIR = join(s3.scratch, name);
  const runtime = await createRuntime(env, { log: silentLogger });
  runtimes.push(runtime);
  return runtime;
}

beforeAll(async () => {
  fx = await createFixture({ identities: 3, perIdentity: 2, index: false });
  const [model, index, gallery] = [s3.prefix('model'), s3.prefix('index'), s3.prefix('gallery')];
  await uploadFolder(fx.modelDir, model);
  await uploadFolder(fx.galleryDir, gallery);
  env = { MODEL_DIR: model, INDEX_DIR: index, GALLERY_DIR: gallery, EMBED_WORKERS: '0', RELOAD_POLL_MS: String(POLL_MS), WATCH_INDEX: 'false', LOG_LEVEL: 'silent', API_KEYS: READ_KEY, ADMIN_KEYS: ADMIN_KEY };
});

afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.close()));
  await fx?.cleanup();
});

const read = bearer(READ_KEY);
const admin = bearer(ADMIN_KEY);
const topIdentity = async (rt: Runtime, png: Uint8Array<ArrayBuffer>): Promise<string | undefined> =>
  SearchResponseSchema.parse(await (await rt.app.request('/v1/search?k=1', { method: 'POST', body: png, headers: read })).json()).matches[0]?.identity;
const version = async (rt: Runtime): Promise<string> => IndexInfoSchema.parse(await (await rt.app.request('/v1/index', { headers: read })).json()).version;

/** Polls `check` every 10 ms until it holds; resolves how long that took. */
async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - started;
}

describe('serving from object storage', () => {
  it('cold-starts from the bucket: not ready until a snapshot is published, then downloads, verifies and serves it', async () => {
    a = await instance('a');
    const notReady = await a.app.request('/readyz');
    expect(notReady.status).toBe(503);
    expect(ReadySchema.parse(await notReady.json()).problem).toMatchObject({ code: 'NO_INDEX', message: expect.stringContaining(env.INDEX_DIR) });

    const summary = await a.reindex();
    expect(summary).toMatchObject({ images: 6, identities: 3 });
    expect((await a.app.request('/readyz')).status).toBe(200);

    b = await instance('b');
    expect(await version(b)).toBe(summary?.version);
    expect((b.store as LocalHnswStore).lastLoad?.fetch).toMatchObject({ downloaded: 4 });
    expect(await topIdentity(b, await syntheticPng(1000))).toBe('id001');
  });

  it('an enrolment acknowledged by one instance is found by a search on the other within the poll interval, and survives the next re-index', async () => {
    const zoe = await syntheticPng(777_001);
    const enrolled = await a.app.request('/v1/gallery/zoe', { method: 'POST', body: zoe, headers: admin });
    expect(enrolled.status).toBe(201);
    await within(POLL_MS + SLACK_MS, async () => (await topIdentity(b, zoe)) === 'zoe');

    const next = (await b.reindex())?.version as string;
    await within(POLL_MS + SLACK_MS, async () => (await version(a)) === next);
    for (const rt of [a, b]) {
      expect(await topIdentity(rt, zoe)).toBe('zoe');
      expect(IndexInfoSchema.parse(await (await rt.app.request('/v1/index', { headers: read })).json())).toMatchObject({ identities: 4, images: 7, liveAdded: 0 });
    }
  });

  it('a deletion on one instance is seen by the other within the poll interval, and stays deleted through the next re-index', async () => {
    const zoe = await syntheticPng(777_001);
    const deleted = await b.app.request('/v1/gallery/zoe', { method: 'DELETE', headers: admin });
    expect(deleted.status).toBe(200);
    await within(POLL_MS + SLACK_MS, async () => (await topIdentity(a, zoe)) !== 'zoe');

    const next = (await a.reindex())?.version as string;
    await within(POLL_MS + SLACK_MS, async () => (await version(b)) === next);
    for (const rt of [a, b]) {
      expect(await topIdentity(rt, zoe)).not.toBe('zoe');
      const gallery = (await (await rt.app.request('/v1/gallery', { headers: read })).json()) as { identities: { identity: string }[] };
      expect(gallery.identities.map((i) => i.identity)).toEqual(['id000', 'id001', 'id002']);
    }
  });

  it('a published snapshot whose file fails its hash is refused: the previous one keeps serving and /readyz says degraded', async () => {
    const serving = await version(a);
    // CURRENT moved to a snapshot whose vectors object does not hash to the name it is stored under.
    const snapshots = new ObjectSnapshots(env.INDEX_DIR);
    const current = (await snapshots.current())!;
    const fake = randomBytes(32).toString('hex');
    const vectors = current.record.files['vectors.f32'];
    await new ObjectBucket(parseObjectUri(env.INDEX_DIR)).put(`files/${fake}`, randomBytes(vectors.size));
    const files = { ...current.record.files, 'vectors.f32': { sha256: fake, size: vectors.size } };
    const bad = nextVersionName([current.record.version]);
    const record = { ...current.record, version: bad, id: snapshotId(bad, files), files, parent: { version: current.record.version, id: current.record.id } };
    expect(await new ObjectBucket(parseObjectUri(env.INDEX_DIR)).put('CURRENT', JSON.stringify(record), { ifMatch: current.etag })).not.toBeNull();

    for (const rt of [a, b]) {
      await within(POLL_MS + SLACK_MS, async () => ReadySchema.parse(await (await rt.app.request('/readyz')).json()).status === 'degraded');
      const ready = ReadySchema.parse(await (await rt.app.request('/readyz')).json());
      expect(ready.index).toMatchObject({ version: serving, refused: { version: bad, code: 'CORRUPT_SNAPSHOT' } });
      expect(await topIdentity(rt, await syntheticPng(2001))).toBe('id002');
    }
    // A re-index cannot build on it (and says how to fix that); a full build replaces it, and is served again.
    await expect(b.reindex()).rejects.toMatchObject({ code: 'CORRUPT_SNAPSHOT', message: expect.stringContaining('Run a full build') });
    const fixed = (await b.store.reindex({ mode: 'build' }))?.version as string;
    await within(POLL_MS + SLACK_MS, async () => (await version(a)) === fixed);
    expect(ReadySchema.parse(await (await a.app.request('/readyz')).json()).status).toBe('ready');
  });

  it('the scheduled re-index job reads the gallery from the bucket, publishes, and every instance serves the result', async () => {
    const before = await version(a);
    // A new identity added to the gallery folder in the bucket, as a user uploads one.
    const yan = await syntheticPng(888_001);
    await new ObjectBucket(parseObjectUri(env.GALLERY_DIR)).put('yan/1.png', yan);
    const summary = await runScheduledReindex(env, { log: silentLogger });
    expect(summary).toMatchObject({ added: 1, removed: 0 });
    expect(summary?.version).not.toBe(before);
    for (const rt of [a, b]) {
      await within(POLL_MS + SLACK_MS, async () => (await version(rt)) === summary?.version);
      expect(await topIdentity(rt, yan)).toBe('yan');
    }
  });
});

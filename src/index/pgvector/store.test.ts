/**
 * The pgvector store against real Postgres code (PGlite over the wire protocol, started by the
 * `pgvector` vitest project): writes shared by instances at once, readers pinned to a
 * generation, the re-index (what it embeds, what it keeps, its lease), and the same answers
 * as the local store.
 */
import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixture, testStore, type Fixture } from '../../../test/fixtures/api.js';
import { syntheticPng, writeTinyModel } from '../../../test/fixtures/gallery.js';
import { openEmbedder, type Embedder } from '../../embedding/index.js';
import { toApiError } from '../../api/errors/index.js';
import { isIndexError } from '../errors.js';
import { exactSearch, recallAtK } from '../exact.js';
import { imageId } from '../ids.js';
import { LocalHnswStore } from '../local-store.js';
import { runIndex } from '../reindex.js';
import { GalleryStore } from '../store.js';
import { buildIndexes, createGeneration, publishGeneration } from './build.js';
import { readServing, releaseLease, takeLease } from './generations.js';
import { PgvectorStore } from './store.js';

const log = pino({ level: 'silent' });
const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../../..');
let embedder: Embedder;
const fixtures: Fixture[] = [];
const stores: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  const fx = await createFixture({ index: false, identities: 1, perIdentity: 1, store: { kind: 'local' } });
  fixtures.push(fx);
  embedder = await openEmbedder(fx.modelDir, { workers: 0 });
});

afterAll(async () => {
  for (const s of stores) await s.close();
  await embedder?.close();
  for (const f of fixtures) await f.cleanup();
});

async function pgFixture(identities = 3, perIdentity = 2): Promise<Fixture> {
  const fx = await createFixture({ identities, perIdentity, store: await testStore('pgvector') });
  fixtures.push(fx);
  return fx;
}

/** Another serving instance of the fixture's store: its own pool, no polling (it must not need one). */
async function instance(fx: Fixture, expectModel = embedder.recipe.modelId): Promise<PgvectorStore> {
  const { recipe } = embedder;
  const store = new PgvectorStore({
    pool: { url: fx.store.databaseUrl as string, max: 4 },
    schema: fx.store.schema,
    expect: { dim: recipe.dim, metric: recipe.metric, modelId: expectModel },
    gallery: new GalleryStore(fx.galleryDir),
    embedder,
    log,
    pollMs: 0,
  });
  stores.push(store);
  return store;
}

const vectorOf = async (input: string | Uint8Array): Promise<Float32Array> => (await embedder.embedAll([input])).vectors;
const top = async (store: PgvectorStore, vector: Float32Array): Promise<string | undefined> => (await store.reader()?.search(vector, 1))?.[0]?.identity;

describe('PgvectorStore, two instances on one database', () => {
  it('an enrolment acknowledged by A is found by B at once, a deletion likewise, and both survive a re-index', async () => {
    const fx = await pgFixture();
    const a = await instance(fx);
    const b = await instance(fx);
    expect(await a.start()).toBe('swapped');
    expect(await b.start()).toBe('swapped');
    const png = await syntheticPng(777_001);
    const vector = await vectorOf(png);
    const enrolled = await a.enrol('newcomer', [{ bytes: png, vector }]);
    expect(enrolled).toMatchObject({ added: 1, duplicates: 0, images: 1, ids: [imageId('newcomer', enrolled.entries[0].sha256)] });
    // B has not reloaded anything: one swap, at start.
    expect(await top(b, vector)).toBe('newcomer');
    expect(b.status().swaps).toBe(1);
    // Replaying the same write is harmless.
    expect(await b.enrol('newcomer', [{ bytes: png, vector }])).toMatchObject({ added: 0, duplicates: 1, images: 1, ids: enrolled.ids });

    const gone = await vectorOf(join(fx.galleryDir, 'id001', '0.png'));
    expect(await top(b, gone)).toBe('id001');
    expect(await a.deleteIdentity('id001')).toBe(2);
    expect(await top(b, gone)).not.toBe('id001');
    expect((await b.reader()!.identities(undefined, 10)).identities.map((i) => i.identity)).toEqual(['id000', 'id002', 'newcomer']);
    expect(await b.deleteIdentity('id001')).toBe(0);

    const version = await fx.index('reindex');
    expect(await b.reload()).toBe('swapped');
    expect(b.reader()!.generation).toBe(version);
    expect(await top(b, vector)).toBe('newcomer');
    expect(await top(b, gone)).not.toBe('id001');
    expect(b.reader()!.info()).toMatchObject({ engine: 'pgvector', images: 5, identities: 3, liveAdded: 0, capabilities: { sharedWrites: true } });
    // The thumbnail bytes of an enrolled image come from the database, on any instance.
    const entry = await b.reader()!.image(enrolled.entries[0].sha256);
    expect(Buffer.from((await b.imageBytes(entry!))!).equals(Buffer.from(png))).toBe(true);
  });

  it('a reader stays on its generation while a new one is published, and writes reach both', async () => {
    const fx = await pgFixture();
    const a = await instance(fx);
    await a.start();
    const pinned = a.reader()!;
    await writeFile(join(fx.galleryDir, 'id000', 'new.png'), await syntheticPng(424_242));
    const next = await fx.index('reindex');
    expect(pinned.generation).not.toBe(next);
    expect(pinned.info().images).toBe(6);
    const png = await syntheticPng(515_151);
    const vector = await vectorOf(png);
    await a.enrol('late', [{ bytes: png, vector }]);
    // A's write found the newer generation current and serves it from now on; the pinned reader still answers from its own.
    expect(a.reader()!.generation).toBe(next);
    expect((await pinned.search(vector, 1))[0].identity).toBe('late');
    expect((await a.reader()!.search(vector, 1))[0].identity).toBe('late');
    expect(a.reader()!.info().images).toBe(8);
  });
});

describe('PgvectorStore re-index', () => {
  it('publishing replays the enrolments and deletions committed while the generation was built', async () => {
    const fx = await pgFixture();
    const a = await instance(fx);
    await a.start();
    const current = (await readServing(a.pool, a.names)).current!;
    const { rows } = await a.pool.query<{ seq: string }>(`SELECT coalesce(max(seq), 0) AS seq FROM ${a.names.journal}`);
    // A generation built from the gallery as of now…
    const building = await createGeneration(a.pool, a.names, {
      model: { id: current.modelId, weightsHash: current.weightsHash, dim: current.dim, metric: current.metric, normalized: current.normalized },
      params: { M: 16, efConstruction: 64, ef: 40 },
      journalSeq: Number(rows[0].seq),
      build: { mode: 'rebuild', reason: 'test', seconds: 0 },
    });
    await a.pool.query(`INSERT INTO ${building.tab} SELECT * FROM ${current.tab}`);
    await buildIndexes(a.pool, building);
    // …while writes land in the served generation only.
    const png = await syntheticPng(313_131);
    const vector = await vectorOf(png);
    await a.enrol('meanwhile', [{ bytes: png, vector }]);
    expect(await a.deleteIdentity('id000')).toBe(2);
    await publishGeneration(a.pool, a.names, building, async () => new Map());
    expect(await a.reload()).toBe('swapped');
    expect(a.reader()!.generation).toBe(building.name);
    expect(await top(a, vector)).toBe('meanwhile');
    expect((await a.reader()!.identities(undefined, 10)).identities.map((i) => i.identity)).toEqual(['id001', 'id002', 'meanwhile']);
    expect(a.reader()!.info()).toMatchObject({ images: 5, identities: 3, liveAdded: 1, liveDeleted: 1 });
  });

  it('embeds only added and changed images, keeps the labels of the rest, drops removed ones', async () => {
    const fx = await pgFixture(4, 3);
    const a = await instance(fx);
    await a.start();
    const labelOf = async (source: string): Promise<number | undefined> => {
      const hits = await a.reader()!.search(await vectorOf(join(fx.galleryDir, source)), 1, { level: 'image' });
      return hits[0]?.source === source ? hits[0].label : undefined;
    };
    const kept = await labelOf('id003/2.png');
    await writeFile(join(fx.galleryDir, 'id000', '9.png'), await syntheticPng(424_242));
    await writeFile(join(fx.galleryDir, 'id001', '0.png'), await syntheticPng(515_151));
    await rm(join(fx.galleryDir, 'id002', '1.png'));
    const summary = await a.reindex();
    expect(summary).toMatchObject({ mode: 'rebuild', added: 1, changed: 1, removed: 1, unchanged: 10, embedded: 2, images: 12, identities: 4, failed: 0 });
    expect(await labelOf('id003/2.png')).toBe(kept);
    expect(await labelOf('id001/0.png')).toBeDefined();
    expect(await a.reindex()).toMatchObject({ added: 0, changed: 0, removed: 0, unchanged: 12, embedded: 0 });
    // Exact search is the scan; it agrees with the graph on a gallery this small.
    const q = await vectorOf(join(fx.galleryDir, 'id000', '9.png'));
    expect(await a.reader()!.search(q, 5, { exact: true })).toEqual(await a.reader()!.search(q, 5, { ef: 200 }));
  });

  it('leaves an unreadable image out, retries it next run, and does nothing while another run holds the lease', async () => {
    const fx = await pgFixture();
    const a = await instance(fx);
    await a.start();
    const before = a.reader()!.generation;
    await writeFile(join(fx.galleryDir, 'id000', 'broken.png'), Buffer.from('not a png at all'));
    const warnings: string[] = [];
    expect(await a.reindex({ onWarning: (m) => warnings.push(m) })).toMatchObject({ failed: 1, images: 6 });
    expect(warnings.join('\n')).toMatch(/broken\.png/);
    expect((await a.reindex())?.failed).toBe(1);
    const served = a.reader()!.generation;
    expect(served).not.toBe(before);
    expect(await takeLease(a.pool, a.names, 'someone else', 60)).toBe(true);
    try {
      expect(await a.reindex()).toBeNull();
      expect(a.reader()!.generation).toBe(served);
    } finally {
      await releaseLease(a.pool, a.names, 'someone else');
    }
  });

  it("refuses another model's generation (MISMATCH) and replaces it only when told to (OTHER_MODEL)", async () => {
    const fx = await pgFixture();
    const other = await instance(fx, 'some-other-model');
    expect(await other.start()).toBe('refused');
    expect(other.status()).toMatchObject({ ready: false, refused: { code: 'MISMATCH' } });
    // A model of another name embeds into this schema only with replaceModel (--force).
    await writeTinyModel(join(fx.dir, 'another'), { seed: 3, name: 'another-model' });
    const another = await openEmbedder(join(fx.dir, 'another'), { workers: 0 });
    try {
      const { recipe } = another;
      const store = new PgvectorStore({ pool: { url: fx.store.databaseUrl as string, max: 2 }, schema: fx.store.schema, expect: { dim: recipe.dim, metric: recipe.metric }, gallery: new GalleryStore(fx.galleryDir), embedder: another, log, pollMs: 0 });
      stores.push(store);
      const err = await store.reindex().catch((e: unknown) => e);
      expect(isIndexError(err, 'OTHER_MODEL')).toBe(true);
      expect(await store.reindex({ replaceModel: true })).toMatchObject({ mode: 'full', embedded: 6, images: 6 });
    } finally {
      await another.close();
    }
  });
});

describe('same answers as the local store', () => {
  it('identical top-1 identity for every query, and recall@10 >= 0.99 against the exact scan, with both stores', async () => {
    const fx = await pgFixture(30, 6);
    await runIndex({ indexDir: fx.indexDir, store: new GalleryStore(fx.galleryDir), embedder, mode: 'build' });
    const { recipe } = embedder;
    const local = new LocalHnswStore({ indexDir: fx.indexDir, expect: { dim: recipe.dim, metric: recipe.metric }, gallery: new GalleryStore(fx.galleryDir), embedder, log, watch: false, pollMs: 0 });
    stores.push(local);
    const pg = await instance(fx);
    await local.start();
    await pg.start();
    const gallery = await new GalleryStore(fx.galleryDir).listGalleryEntries();
    const table = (await embedder.embedAll(gallery.entries.map((e) => e.path))).vectors;
    const queries = (await embedder.embedAll(await Promise.all(Array.from({ length: 60 }, (_, i) => syntheticPng(i % 2 ? 1000 * (i % 30) + 7 : 900_000 + i))))).vectors;
    const dim = recipe.dim;
    const truth: number[][] = [];
    const found: Record<'local' | 'pg', number[][]> = { local: [], pg: [] };
    let sameTop = 0;
    for (let q = 0; q < 60; q++) {
      const query = queries.subarray(q * dim, (q + 1) * dim);
      truth.push(exactSearch(table, dim, query, 10).map((h) => h.row));
      const [l, p] = await Promise.all([local.reader()!.search(query, 10), pg.reader()!.search(query, 10)]);
      const row = (source: string): number => gallery.entries.findIndex((e) => e.source === source);
      found.local.push(l.map((h) => row(h.source)));
      found.pg.push(p.map((h) => row(h.source)));
      if (l[0].identity === p[0].identity) sameTop++;
    }
    expect(sameTop).toBe(60);
    expect(recallAtK(found.local, truth, 10)).toBeGreaterThanOrEqual(0.99);
    expect(recallAtK(found.pg, truth, 10)).toBeGreaterThanOrEqual(0.99);
  });
});

describe('an unreachable database', () => {
  it('fails with UNAVAILABLE (the API answers 503 NOT_READY), quickly and without crashing', async () => {
    const { recipe } = embedder;
    const store = new PgvectorStore({
      pool: { url: 'postgresql://postgres:postgres@127.0.0.1:1/postgres?sslmode=disable', connectTimeoutMs: 1000 },
      expect: { dim: recipe.dim, metric: recipe.metric },
      gallery: new GalleryStore(fixtures[0].galleryDir),
      embedder,
      log,
      pollMs: 0,
    });
    stores.push(store);
    const started = performance.now();
    const err = await store.start().catch((e: unknown) => e);
    expect(isIndexError(err, 'UNAVAILABLE')).toBe(true);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(toApiError(err)).toMatchObject({ status: 503, code: 'NOT_READY' });
  });
});

describe('npm run index / reindex with VECTOR_STORE=pgvector', () => {
  it('builds and re-indexes into Postgres, prints one summary line, and exits 75 while another run holds the lease', async () => {
    const fx = await createFixture({ identities: 2, perIdentity: 2, index: false, store: await testStore('pgvector') });
    fixtures.push(fx);
    const env = { ...process.env, VECTOR_STORE: 'pgvector', DATABASE_URL: fx.store.databaseUrl, PG_SCHEMA: fx.store.schema };
    const args = ['--model', fx.modelDir, '--gallery', fx.galleryDir, '--workers', '0', '--backend', 'wasm', '--no-progress'];
    const cli = (script: string) =>
      run(join(repo, 'node_modules/.bin/tsx'), [join(repo, `src/cli/${script}.ts`), ...args], { env }).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const built = await cli('index');
    expect(built).toMatchObject({ code: 0, stderr: '' });
    expect(built.stdout.trim().split('\n')).toHaveLength(1);
    expect(built.stdout).toMatch(/^g000001-\d{8}T\d{6}Z: 4 images of 2 identities/);
    const a = await instance(fx);
    expect(await a.start()).toBe('swapped');
    expect(await takeLease(a.pool, a.names, 'cron elsewhere', 60)).toBe(true);
    try {
      const blocked = await cli('reindex');
      expect(blocked.code).toBe(75);
      expect(blocked.stderr).toMatch(/error \[LOCKED\]: another index run holds the lease/);
    } finally {
      await releaseLease(a.pool, a.names, 'cron elsewhere');
    }
    expect((await cli('reindex')).stdout).toMatch(/^g000002-.*: 4 images of 2 identities.*0 embedded/);
  });
});

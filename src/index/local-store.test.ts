import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixture, type Fixture } from '../../test/fixtures/api.js';
import { syntheticPng } from '../../test/fixtures/gallery.js';
import { pino } from 'pino';
import { openEmbedder, type Embedder } from '../embedding/index.js';
import { Catalogue } from './catalogue.js';
import { LocalHnswStore } from './local-store.js';
import { HNSW_FILE } from './manifest.js';
import { GalleryStore } from './store.js';
import type { ReloadOutcome } from './vector-store.js';

const silentLogger = pino({ level: 'silent' });
let embedder: Embedder;
const fixtures: Fixture[] = [];
const stores: LocalHnswStore[] = [];

beforeAll(async () => {
  const fx = await createFixture({ index: false, identities: 1, perIdentity: 1 });
  fixtures.push(fx);
  embedder = await openEmbedder(fx.modelDir, { workers: 0 });
});

afterAll(async () => {
  await Promise.all(stores.map((h) => h.close()));
  await embedder?.close();
  await Promise.all(fixtures.map((f) => f.cleanup()));
});

async function setup(options: { watch?: boolean; pollMs?: number } = {}): Promise<{ fx: Fixture; store: LocalHnswStore }> {
  const fx = await createFixture({ identities: 3, perIdentity: 2 });
  fixtures.push(fx);
  // Same seed as the shared embedder's fixture: the same tiny model.
  const { recipe } = embedder;
  const store = new LocalHnswStore({
    indexDir: fx.indexDir,
    expect: { dim: recipe.dim, metric: recipe.metric, modelId: recipe.modelId },
    gallery: new GalleryStore(fx.galleryDir),
    embedder,
    log: silentLogger,
    watch: options.watch ?? false,
    pollMs: options.pollMs ?? 0,
  });
  stores.push(store);
  return { fx, store };
}

const nextReload = (store: LocalHnswStore): Promise<{ outcome: ReloadOutcome; generation: string | null }> =>
  new Promise((resolve) => {
    const off = store.onReload((outcome, generation) => {
      off();
      resolve({ outcome, generation });
    });
  });

const vectorOf = async (input: string | Uint8Array): Promise<Float32Array> => (await embedder.embedAll([input])).vectors;

describe('LocalHnswStore', () => {
  it('loads CURRENT, swaps in a new snapshot on reload, and leaves the old reader intact for requests in flight', async () => {
    const { fx, store } = await setup();
    expect(await store.start()).toBe('swapped');
    const first = store.reader()!;
    expect(store.status()).toMatchObject({ ready: true, generation: first.generation, swaps: 1, refused: null });
    expect(await store.reload()).toBe('unchanged');

    await writeFile(join(fx.galleryDir, 'id000', 'extra.png'), await syntheticPng(424242));
    const v2 = await fx.index('reindex');
    expect(await store.reload()).toBe('swapped');
    const second = store.reader()!;
    expect(second.generation).toBe(v2);
    expect(second.info().images).toBe(7);
    expect((await second.identities(undefined, 10)).identities).toContainEqual({ identity: 'id000', images: 3 });
    // The old reader still answers (a request that took it before the swap finishes on it).
    const vector = await vectorOf(join(fx.galleryDir, 'id001', '0.png'));
    expect((await first.search(vector, 1))[0].source).toBe('id001/0.png');
    expect(first.info().images).toBe(6);
    expect(first.generation).not.toBe(v2);
  });

  it('refuses a snapshot that fails verification, keeps serving the old one, and recovers with the next good one', async () => {
    const { fx, store } = await setup();
    await store.start();
    const good = store.reader()!.generation;
    await writeFile(join(fx.galleryDir, 'id002', 'extra.png'), await syntheticPng(515151));
    const bad = await fx.index('reindex');
    const hnsw = join(fx.indexDir, bad, HNSW_FILE);
    const bytes = await readFile(hnsw);
    bytes[bytes.length - 1] ^= 0xff;
    await writeFile(hnsw, bytes);

    expect(await store.reload()).toBe('refused');
    expect(store.reader()!.generation).toBe(good);
    expect(store.status()).toMatchObject({ ready: true, generation: good, reloadFailures: 1, refused: { generation: bad, code: 'CORRUPT_SNAPSHOT' } });
    // Not retried until CURRENT changes.
    expect(await store.reload()).toBe('refused');
    expect(store.status().reloadFailures).toBe(1);

    const fixed = await fx.index('build');
    expect(await store.reload()).toBe('swapped');
    expect(store.status()).toMatchObject({ generation: fixed, refused: null });
  });

  it('refuses a snapshot of another model (MISMATCH)', async () => {
    const { fx } = await setup();
    const { recipe } = embedder;
    const other = new LocalHnswStore({ indexDir: fx.indexDir, expect: { dim: recipe.dim, metric: recipe.metric, modelId: 'some-other-model' }, gallery: new GalleryStore(fx.galleryDir), embedder, log: silentLogger, watch: false, pollMs: 0 });
    stores.push(other);
    expect(await other.start()).toBe('refused');
    expect(other.status()).toMatchObject({ ready: false, refused: { code: 'MISMATCH' } });
    expect(other.reader()).toBeNull();
  });

  it.each([
    { how: 'fs.watch', watch: true, pollMs: 0 },
    { how: 'the periodic check when watching is off', watch: false, pollMs: 50 },
  ])('notices a new CURRENT through $how', async ({ watch, pollMs }) => {
    const { fx, store } = await setup({ watch, pollMs });
    await store.start();
    const swapped = nextReload(store);
    await writeFile(join(fx.galleryDir, 'id000', `new-${pollMs}.png`), await syntheticPng(616161 + pollMs));
    const generation = await fx.index('reindex');
    expect(await swapped).toEqual({ outcome: 'swapped', generation });
  });

  it('enrols and deletes durably and at once in the served snapshot; duplicates are not added twice', async () => {
    const { fx, store } = await setup();
    await store.start();
    const png = await syntheticPng(818181);
    const vector = await vectorOf(png);
    expect(await store.enrol('dave', [{ bytes: png, vector }])).toMatchObject({ added: 1, duplicates: 0, images: 1 });
    expect(await store.enrol('dave', [{ bytes: png, vector }])).toMatchObject({ added: 0, duplicates: 1, images: 1 });
    expect((await store.reader()!.search(vector, 1))[0].identity).toBe('dave');
    expect(await store.deleteIdentity('id000')).toBe(2);
    expect((await store.reader()!.identities(undefined, 10)).identities.map((i) => i.identity)).toEqual(['dave', 'id001', 'id002']);
    expect(await store.deleteIdentity('nobody')).toBe(0);
    const gallery = new GalleryStore(fx.galleryDir);
    expect((await gallery.records()).map((r) => r.op)).toEqual(['enrol', 'enrol', 'delete']);
  });

  it("catches a new snapshot up with the journal records written after the snapshot's position", async () => {
    const { fx, store } = await setup();
    await store.start();
    const png = await syntheticPng(919191);
    const vector = await vectorOf(png);
    // Another process (a second server) enrols and deletes: only the journal has these changes.
    const elsewhere = new LocalHnswStore({ indexDir: fx.indexDir, expect: { dim: embedder.recipe.dim, metric: embedder.recipe.metric }, gallery: new GalleryStore(fx.galleryDir), embedder, log: silentLogger, watch: false, pollMs: 0 });
    stores.push(elsewhere);
    await elsewhere.start();
    await elsewhere.enrol('erin', [{ bytes: png, vector }]);
    await elsewhere.deleteIdentity('id001');
    // This store has not seen them...
    expect((await store.reader()!.image(createHashHex(png)))).toBeUndefined();
    // ...until it opens a snapshot (here the same version, forced): the catch-up replays both records.
    const before = store.reader()!;
    expect(await store.reload({ force: true })).toBe('swapped');
    const after = store.reader()!;
    expect(after).not.toBe(before);
    expect(after.info()).toMatchObject({ liveAdded: 1, liveDeleted: 1 });
    expect((await after.search(vector, 1))[0].identity).toBe('erin');
    expect((await after.identities(undefined, 10)).identities.map((i) => i.identity)).toEqual(['erin', 'id000', 'id002']);
    expect((await after.image(createHashHex(png)))?.identity).toBe('erin');
  });

  it('serves the thumbnail bytes of an indexed image only while they still hash to what was indexed', async () => {
    const { fx, store } = await setup();
    await store.start();
    const entry = (await store.reader()!.image('0'))!;
    expect(entry).toBeDefined();
    const bytes = await store.imageBytes(entry);
    expect(createHashHex(bytes!)).toBe(entry.sha256);
    await writeFile(join(fx.galleryDir, ...entry.source.split('/')), await syntheticPng(1234567));
    expect(await store.imageBytes(entry)).toBeUndefined();
  });
});

function createHashHex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
describe('Catalogue', () => {
  const entry = (identity: string, label: number, sha = String(label).padStart(64, '0')) => ({ identity, label, origin: 'folder' as const, source: `${identity}/${label}.png`, sha256: sha, size: 1 });
  it('pages identities in byte order after a cursor', () => {
    const c = Catalogue.fromEntries([entry('b', 1), entry('a', 2), entry('a', 3), entry('Z', 4), entry('é', 5)]);
    expect(c.page(undefined, 2)).toEqual({ identities: [{ identity: 'Z', images: 1 }, { identity: 'a', images: 2 }], next: 'a' });
    expect(c.page('a', 2)).toEqual({ identities: [{ identity: 'b', images: 1 }, { identity: 'é', images: 1 }], next: null });
    expect(c.page('aa', 10).identities.map((i) => i.identity)).toEqual(['b', 'é']);
  });

  it('finds images by label or sha256 and forgets deleted identities', () => {
    const c = Catalogue.fromEntries([entry('a', 1), entry('b', 2, 'f'.repeat(64))]);
    expect(c.find('2')?.identity).toBe('b');
    expect(c.find('f'.repeat(64))?.label).toBe(2);
    expect(c.find('../etc/passwd')).toBeUndefined();
    expect(c.deleteIdentity('b')).toBe(1);
    expect(c.find('f'.repeat(64))).toBeUndefined();
    expect(c.hasSource('folder', 'b/2.png')).toBe(false);
    expect(c.identities).toBe(1);
  });
});

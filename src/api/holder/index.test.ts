import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedder } from '../../index/embedder.js';
import { HNSW_FILE } from '../../index/manifest.js';
import { openModelEmbedder } from '../../index/model-embedder.js';
import { readCurrent } from '../../index/snapshot.js';
import { GalleryStore } from '../../index/store.js';
import { syntheticPng } from '../../index/testing.js';
import { silentLogger } from '../log.js';
import { createFixture, type Fixture } from '../testing.js';
import { Catalogue } from './catalogue.js';
import { IndexHolder, type ReloadOutcome } from './index.js';

let embedder: Embedder;
const fixtures: Fixture[] = [];
const holders: IndexHolder[] = [];

beforeAll(async () => {
  const fx = await createFixture({ index: false, identities: 1, perIdentity: 1 });
  fixtures.push(fx);
  embedder = await openModelEmbedder(fx.modelDir, { workers: 0 });
});

afterAll(async () => {
  await Promise.all(holders.map((h) => h.close()));
  await embedder?.close();
  await Promise.all(fixtures.map((f) => f.cleanup()));
});

async function setup(options: { watch?: boolean; pollMs?: number } = {}): Promise<{ fx: Fixture; holder: IndexHolder }> {
  const fx = await createFixture({ identities: 3, perIdentity: 2 });
  fixtures.push(fx);
  // Same seed as the shared embedder's fixture: the same tiny model.
  const holder = new IndexHolder({
    indexDir: fx.indexDir,
    expect: { dim: embedder.dim, metric: embedder.metric, modelId: embedder.modelId },
    store: new GalleryStore(fx.galleryDir),
    embedder,
    log: silentLogger,
    watch: options.watch ?? false,
    pollMs: options.pollMs ?? 0,
  });
  holders.push(holder);
  return { fx, holder };
}

const nextReload = (holder: IndexHolder): Promise<{ outcome: ReloadOutcome; version: string | null }> =>
  new Promise((resolve) => {
    const off = holder.onReload((outcome, version) => {
      off();
      resolve({ outcome, version });
    });
  });

describe('IndexHolder', () => {
  it('loads CURRENT, swaps in a new snapshot on reload, and leaves the old instance intact for requests in flight', async () => {
    const { fx, holder } = await setup();
    expect(await holder.start()).toBe('swapped');
    const first = holder.current!;
    expect(holder.status()).toMatchObject({ ready: true, version: first.version, swaps: 1, refused: null });
    expect(await holder.reload()).toBe('unchanged');

    await writeFile(join(fx.galleryDir, 'id000', 'extra.png'), await syntheticPng(424242));
    const v2 = await fx.index('reindex');
    expect(await holder.reload()).toBe('swapped');
    expect(holder.current!.version).toBe(v2);
    expect(holder.current!.stats().images).toBe(7);
    expect(holder.catalogue!.count('id000')).toBe(3);
    // The old object still answers (a request that read it before the swap finishes on it).
    const { vectors } = await embedder.embed([join(fx.galleryDir, 'id001', '0.png')]);
    expect(first.search(vectors, 1)[0].source).toBe('id001/0.png');
    expect(first.stats().images).toBe(6);
  });

  it('refuses a snapshot that fails verification, keeps serving the old one, and recovers with the next good one', async () => {
    const { fx, holder } = await setup();
    await holder.start();
    const good = holder.current!.version;
    await writeFile(join(fx.galleryDir, 'id002', 'extra.png'), await syntheticPng(515151));
    const bad = await fx.index('reindex');
    const hnsw = join(fx.indexDir, bad, HNSW_FILE);
    const bytes = await readFile(hnsw);
    bytes[bytes.length - 1] ^= 0xff;
    await writeFile(hnsw, bytes);

    expect(await holder.reload()).toBe('refused');
    expect(holder.current!.version).toBe(good);
    expect(holder.status()).toMatchObject({ ready: true, version: good, reloadFailures: 1, refused: { version: bad, code: 'CORRUPT_SNAPSHOT' } });
    // Not retried until CURRENT changes.
    expect(await holder.reload()).toBe('refused');
    expect(holder.status().reloadFailures).toBe(1);

    const fixed = await fx.index('build');
    expect(await holder.reload()).toBe('swapped');
    expect(holder.status()).toMatchObject({ version: fixed, refused: null });
  });

  it('refuses a snapshot of another model (MISMATCH)', async () => {
    const { fx } = await setup();
    const other = new IndexHolder({ indexDir: fx.indexDir, expect: { dim: embedder.dim, metric: embedder.metric, modelId: 'some-other-model' }, store: new GalleryStore(fx.galleryDir), embedder, log: silentLogger, watch: false, pollMs: 0 });
    holders.push(other);
    expect(await other.start()).toBe('refused');
    expect(other.status()).toMatchObject({ ready: false, refused: { code: 'MISMATCH' } });
  });

  it('notices a new CURRENT through fs.watch', async () => {
    const { fx, holder } = await setup({ watch: true });
    await holder.start();
    const swapped = nextReload(holder);
    await writeFile(join(fx.galleryDir, 'id000', 'w.png'), await syntheticPng(616161));
    const version = await fx.index('reindex');
    expect(await swapped).toEqual({ outcome: 'swapped', version });
  });

  it('notices a new CURRENT through the periodic check when watching is off', async () => {
    const { fx, holder } = await setup({ watch: false, pollMs: 50 });
    await holder.start();
    const swapped = nextReload(holder);
    await writeFile(join(fx.galleryDir, 'id001', 'p.png'), await syntheticPng(717171));
    const version = await fx.index('reindex');
    expect(await swapped).toEqual({ outcome: 'swapped', version });
  });

  it('enrols and deletes through the store and the live index, and catches up journal records after a swap', async () => {
    const { fx, holder } = await setup();
    await holder.start();
    const png = await syntheticPng(818181);
    const { vectors: vector } = await embedder.embed([png]);
    expect(await holder.enrol('dave', [{ bytes: png, vector }])).toMatchObject({ added: 1, duplicates: 0, images: 1 });
    expect(holder.current!.search(vector, 1)[0].identity).toBe('dave');
    expect(await holder.deleteIdentity('id000')).toBe(2);
    expect(holder.current!.hasIdentity('id000')).toBe(false);
    expect(await holder.deleteIdentity('nobody')).toBe(0);

    // A snapshot built from an older journal position: its catch-up replays the enrolment and deletion.
    const store = new GalleryStore(fx.galleryDir);
    expect((await store.records()).map((r) => r.op)).toEqual(['enrol', 'delete']);
    const current = await readCurrent(fx.indexDir);
    await holder.reload({ force: true });
    expect(holder.current!.version).toBe(current);
    expect(holder.current!.search(vector, 1)[0].identity).toBe('dave');
    expect(holder.catalogue!.count('dave')).toBe(1);
    expect(holder.catalogue!.count('id000')).toBe(0);
  });
});

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

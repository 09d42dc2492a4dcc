import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbedder, type Embedder } from '../embedding/index.js';
import { isIndexError } from './errors.js';
import { exactSearch } from './exact.js';
import { acquireLock } from './lock.js';
import { HNSW_FILE, MANIFEST_FILE, parseManifest, VECTORS_FILE } from './manifest.js';
import { openSnapshot } from './live-snapshot.js';
import { runIndex, type IndexRunOptions } from './reindex.js';
import { listVersions, readCurrent } from './snapshot.js';
import { readSnapshotData } from './snapshot-read.js';
import { GalleryStore } from './store.js';
import { syntheticPng, writeSyntheticGallery, writeTinyModel } from '../../test/fixtures/gallery.js';

let base: string;
let modelA: Embedder;
let modelB: Embedder;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'reindex-'));
  await writeTinyModel(join(base, 'model-a'), { seed: 1 });
  await writeTinyModel(join(base, 'model-b'), { seed: 2 });
  modelA = await openEmbedder(join(base, 'model-a'), { backend: 'wasm' });
  modelB = await openEmbedder(join(base, 'model-b'), { backend: 'wasm' });
});

afterAll(async () => {
  await modelA?.close();
  await modelB?.close();
});

let counter = 0;
/** A fresh gallery (4 identities x 3 images) and index folder. */
async function setup(): Promise<{ root: string; indexDir: string; store: GalleryStore; run: (o?: Partial<IndexRunOptions>) => ReturnType<typeof runIndex> }> {
  const dir = join(base, `case-${counter++}`);
  const root = join(dir, 'gallery');
  await writeSyntheticGallery(root, 4, 3);
  const indexDir = join(dir, 'index');
  const store = new GalleryStore(root);
  const run = (o: Partial<IndexRunOptions> = {}) => runIndex({ indexDir, store, embedder: modelA, mode: 'reindex', ...o });
  return { root, indexDir, store, run };
}

const expectA = () => ({ dim: modelA.recipe.dim, metric: modelA.recipe.metric, modelId: modelA.recipe.modelId });
const dimA = (): number => modelA.recipe.dim;

async function manifestOf(indexDir: string) {
  const version = (await readCurrent(indexDir)) as string;
  return parseManifest(await readFile(join(indexDir, version, MANIFEST_FILE), 'utf8'));
}

describe('build and search', () => {
  it('builds a snapshot every image of which finds itself first', async () => {
    const { root, indexDir, run } = await setup();
    const summary = await run({ mode: 'build' });
    expect(summary).toMatchObject({ mode: 'full', added: 12, embedded: 12, images: 12, identities: 4, failed: 0, parent: null });
    expect(await readCurrent(indexDir)).toBe(summary.version);
    expect((await readdir(join(indexDir, summary.version))).sort()).toEqual(['checksums.json', HNSW_FILE, MANIFEST_FILE, VECTORS_FILE].sort());

    const index = await openSnapshot(indexDir, { expect: expectA() });
    expect(index.stats()).toMatchObject({ images: 12, identities: 4, ef: 100, M: 16 });
    const snapshot = await readSnapshotData(indexDir, summary.version, { verifyHnsw: false });
    const files = ['id000/0.png', 'id001/2.png', 'id003/1.png'];
    const { vectors } = await modelA.embedAll(files.map((f) => join(root, f)));
    files.forEach((file, i) => {
      const q = vectors.subarray(i * dimA(), (i + 1) * dimA());
      const hits = index.search(q, 5);
      expect(hits[0]).toMatchObject({ source: file, origin: 'folder' });
      expect(hits[0].distance).toBeLessThan(1e-3);
      expect(hits.map((h) => h.label)).toEqual(exactSearch(snapshot.vectors, dimA(), q, 5).map((h) => snapshot.manifest.entries[h.row].label));
      const people = index.search(q, 3, { level: 'identity' });
      expect(people).toHaveLength(3);
      expect(new Set(people.map((p) => p.identity)).size).toBe(3);
      expect(people[0].identity).toBe(file.split('/')[0]);
      for (let j = 1; j < people.length; j++) expect(people[j].distance).toBeGreaterThanOrEqual(people[j - 1].distance);
    });
    expect(index.search(vectors.subarray(0, dimA()), 10, { level: 'identity' })).toHaveLength(4);
  });

  it('refuses an empty gallery and changes nothing', async () => {
    const indexDir = join(base, 'empty-index');
    const store = new GalleryStore(await mkdtemp(join(tmpdir(), 'empty-gallery-')));
    const err = await runIndex({ indexDir, store, embedder: modelA, mode: 'build' }).catch((e: unknown) => e);
    expect(isIndexError(err, 'EMPTY_GALLERY')).toBe(true);
    expect(await readCurrent(indexDir)).toBeNull();
  });
});

describe('re-index', () => {
  it('embeds only added and changed images, drops removed ones, keeps labels of the rest', async () => {
    const { root, indexDir, run } = await setup();
    const first = await run({ mode: 'build' });
    const before = await manifestOf(indexDir);
    await writeFile(join(root, 'id000/9.png'), await syntheticPng(424242)); // added
    await writeFile(join(root, 'id001/0.png'), await syntheticPng(515151)); // changed
    await rm(join(root, 'id002/1.png')); // removed
    const second = await run({ maxDeletedFraction: 0.5 });
    expect(second).toMatchObject({ mode: 'incremental', added: 1, changed: 1, removed: 1, unchanged: 10, embedded: 2, images: 12, deleted: 2, parent: first.version });
    const after = await manifestOf(indexDir);
    const label = (m: typeof after, source: string) => m.entries.find((e) => e.source === source)?.label;
    expect(label(after, 'id003/2.png')).toBe(label(before, 'id003/2.png'));
    expect(label(after, 'id001/0.png')).not.toBe(label(before, 'id001/0.png'));
    expect(label(after, 'id002/1.png')).toBeUndefined();

    const index = await openSnapshot(indexDir, { expect: expectA() });
    const { vectors } = await modelA.embedAll([join(root, 'id001/0.png'), join(root, 'id000/9.png')]);
    expect(index.search(vectors.subarray(0, dimA()), 1)[0]).toMatchObject({ source: 'id001/0.png' });
    expect(index.search(vectors.subarray(dimA()), 1)[0]).toMatchObject({ source: 'id000/9.png' });
    const all = index.search(vectors.subarray(0, dimA()), 50);
    expect(all).toHaveLength(12);
    expect(all.map((h) => h.source)).not.toContain('id002/1.png');

    // Nothing changed: nothing embedded.
    const third = await run();
    expect(third).toMatchObject({ mode: 'incremental', added: 0, changed: 0, removed: 0, unchanged: 12, embedded: 0 });
  });

  it('rebuilds the graph without embedding when the deleted fraction passes the limit', async () => {
    const { root, run } = await setup();
    await run({ mode: 'build' });
    await rm(join(root, 'id003'), { recursive: true });
    const summary = await run({ maxDeletedFraction: 0.2 });
    expect(summary).toMatchObject({ mode: 'rebuild', removed: 3, embedded: 0, deleted: 0, images: 9 });
  });

  it('embeds everything again when the model changed', async () => {
    const { indexDir, store, run } = await setup();
    await run({ mode: 'build' });
    const summary = await run({ embedder: modelB });
    expect(summary).toMatchObject({ mode: 'full', embedded: 12, unchanged: 12 });
    expect(summary.reason).toMatch(/model changed/);
    expect((await manifestOf(indexDir)).model.id).toBe(modelB.recipe.modelId);
    // The old model can no longer open it.
    const err = await openSnapshot(indexDir, { expect: expectA() }).catch((e: unknown) => e);
    expect(isIndexError(err, 'MISMATCH')).toBe(true);
    void store;
  });

  it('keeps enrolments and honours deletions made through the store', async () => {
    const { root, indexDir, store, run } = await setup();
    await run({ mode: 'build' });
    const bytes = await syntheticPng(777);
    const { entries } = await store.enrol('newcomer', [bytes]);
    await store.deleteIdentity('id002');
    const summary = await run({ maxDeletedFraction: 0.5 });
    expect(summary).toMatchObject({ added: 1, removed: 3, embedded: 1, identities: 4 });
    const manifest = await manifestOf(indexDir);
    expect(manifest.gallery.journalSeq).toBe(2);
    expect(manifest.entries.find((e) => e.identity === 'newcomer')).toMatchObject({ origin: 'enrolment', source: entries[0].source });
    expect(manifest.entries.some((e) => e.identity === 'id002')).toBe(false);
    // Survives the next runs, a full build included.
    await run();
    await run({ mode: 'build' });
    const again = await manifestOf(indexDir);
    expect(again.entries.find((e) => e.identity === 'newcomer')).toBeDefined();
    expect(again.entries.some((e) => e.identity === 'id002')).toBe(false);
    void root;
  });

  it('prunes to the last N snapshots, never the current one', async () => {
    const { indexDir, run } = await setup();
    const versions: string[] = [];
    for (let i = 0; i < 5; i++) versions.push((await run({ keep: 2 })).version);
    expect(await listVersions(indexDir)).toEqual(versions.slice(-2));
    expect(await readCurrent(indexDir)).toBe(versions[4]);
  });

  it('does nothing while another run holds the lock', async () => {
    const { indexDir, run } = await setup();
    const first = await run({ mode: 'build' });
    const lock = await acquireLock(join(indexDir, '.lock'));
    try {
      const err = await run().catch((e: unknown) => e);
      expect(isIndexError(err, 'LOCKED')).toBe(true);
      expect(await readCurrent(indexDir)).toBe(first.version);
      expect(await listVersions(indexDir)).toEqual([first.version]);
    } finally {
      await lock.release();
    }
  });

  it('leaves an unreadable image out with a warning and retries it next run', async () => {
    const { root, run } = await setup();
    await writeFile(join(root, 'id000/broken.png'), Buffer.from('not a png at all'));
    const warnings: string[] = [];
    const summary = await run({ mode: 'build', onWarning: (m) => warnings.push(m) });
    expect(summary).toMatchObject({ failed: 1, images: 12 });
    expect(warnings.join('\n')).toMatch(/broken\.png/);
    expect((await run()).failed).toBe(1);
  });
});

describe('corruption and mismatch', () => {
  it.each([HNSW_FILE, VECTORS_FILE, MANIFEST_FILE])('detects a flipped byte in %s', async (file) => {
    const { indexDir, run } = await setup();
    const { version } = await run({ mode: 'build' });
    const path = join(indexDir, version, file);
    const bytes = await readFile(path);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    await writeFile(path, bytes);
    const err = await openSnapshot(indexDir, { expect: expectA() }).catch((e: unknown) => e);
    expect(isIndexError(err, 'CORRUPT_SNAPSHOT')).toBe(true);
    expect((err as Error).message).toContain(file);
    // A re-index refuses to build on it (CURRENT untouched); a full build replaces it.
    await expect(run()).rejects.toThrow(/cannot be re-indexed/);
    expect(await readCurrent(indexDir)).toBe(version);
    const warnings: string[] = [];
    const rebuilt = await run({ mode: 'build', onWarning: (m) => warnings.push(m) });
    expect(warnings.join()).toMatch(/unusable/);
    await openSnapshot(indexDir, { version: rebuilt.version, expect: expectA() });
  });

  it('refuses a snapshot built for another dimension or metric', async () => {
    const { indexDir, run } = await setup();
    await run({ mode: 'build' });
    await expect(openSnapshot(indexDir, { expect: { ...expectA(), dim: 64 } })).rejects.toThrow(/dimension 8, expected 64/);
    await expect(openSnapshot(indexDir, { expect: { ...expectA(), metric: 'cosine' } })).rejects.toThrow(/metric l2, expected cosine/);
    await expect(openSnapshot(join(base, 'nowhere'), { expect: expectA() })).rejects.toThrow(/build an index first/);
  });
});

describe('live changes on an open index', () => {
  it('adds enrolled images and deletes identities in memory', async () => {
    const { indexDir, store, run } = await setup();
    await run({ mode: 'build' });
    const index = await openSnapshot(indexDir, { expect: expectA() });
    const bytes = [await syntheticPng(9001), await syntheticPng(9002)];
    const { entries } = await store.enrol('walk-in', bytes);
    const { vectors } = await modelA.embedAll(bytes);
    const labels = index.addLive(entries, vectors);
    expect(labels).toEqual([12, 13]);
    expect(index.search(vectors.subarray(0, dimA()), 1, { level: 'identity' })[0]).toMatchObject({ identity: 'walk-in' });
    expect(index.search(vectors.subarray(0, dimA()), 1)[0].label).toBe(12);

    expect(index.deleteLive('id001')).toBe(3);
    expect(index.deleteLive('id001')).toBe(0);
    const hits = index.search(vectors.subarray(0, dimA()), 20);
    expect(hits).toHaveLength(11);
    expect(hits.some((h) => h.identity === 'id001')).toBe(false);
    expect(index.stats()).toMatchObject({ images: 11, identities: 4, deleted: 3, liveAdded: 2, liveDeleted: 1 });
    expect(() => index.search([1, 2], 1)).toThrow(/dimensions/);
    expect(() => index.addLive(entries, new Float32Array(3))).toThrow(/floats/);
  });
});

describe('catching up with the store after opening', () => {
  it('replays enrolments and deletions made after the snapshot', async () => {
    const { catchUp } = await import('./live.js');
    const { indexDir, store, run } = await setup();
    await store.enrol('early', [await syntheticPng(31)]);
    await run({ mode: 'build' });
    // Recorded while (or after) the re-index ran: not in the snapshot.
    const late = await syntheticPng(32);
    await store.enrol('late', [late]);
    await store.deleteIdentity('id000');
    await store.deleteIdentity('early');
    const index = await openSnapshot(indexDir, { expect: expectA() });
    expect(index.hasIdentity('late')).toBe(false);
    const result = await catchUp(index, store, modelA);
    expect(result).toEqual({ records: 3, imagesAdded: 1, identitiesDeleted: 2, journalSeq: 4 });
    expect(index.hasIdentity('late')).toBe(true);
    expect(index.hasIdentity('id000')).toBe(false);
    expect(index.hasIdentity('early')).toBe(false);
    const { vectors } = await modelA.embedAll([late]);
    expect(index.search(vectors, 1)[0]).toMatchObject({ identity: 'late', origin: 'enrolment' });
    // Nothing new: nothing to do.
    expect((await catchUp(index, store, modelA, result.journalSeq)).records).toBe(0);
  });

  it('skips an enrolment that a later deletion undoes, even when its photo was already erased', async () => {
    const { catchUp } = await import('./live.js');
    const { indexDir, store, run } = await setup();
    await run({ mode: 'build' });
    const { entries } = await store.enrol('passing', [await syntheticPng(33)]);
    await store.deleteIdentity('passing');
    expect(await store.removeDeletedBlobs(Number.MAX_SAFE_INTEGER)).toEqual([entries[0].sha256]);
    const index = await openSnapshot(indexDir, { expect: expectA() });
    const result = await catchUp(index, store, modelA);
    expect(result).toMatchObject({ records: 2, imagesAdded: 0, journalSeq: 2 });
    expect(index.hasIdentity('passing')).toBe(false);
  });
});

describe('edge cases', () => {
  it('follows the gallery down to zero images and back', async () => {
    const { indexDir, store, run } = await setup();
    await run({ mode: 'build' });
    for (const id of ['id000', 'id001', 'id002', 'id003']) await store.deleteIdentity(id);
    expect(await run()).toMatchObject({ images: 0, identities: 0, removed: 12, mode: 'rebuild' });
    expect(await run()).toMatchObject({ images: 0 }); // an empty snapshot re-indexes too
    const empty = await openSnapshot(indexDir, { expect: expectA() });
    const probe = new Float32Array(dimA()).fill(0.5);
    expect(empty.search(probe, 5)).toEqual([]);
    expect(empty.search(probe, 5, { level: 'identity' })).toEqual([]);
    const bytes = await syntheticPng(4242);
    const { entries } = await store.enrol('first', [bytes]);
    empty.addLive(entries, (await modelA.embedAll([bytes])).vectors);
    expect(empty.search(probe, 5)).toHaveLength(1);
    expect(await run()).toMatchObject({ images: 1, embedded: 1 });
  });

  it('a full build replaces a garbled CURRENT; a re-index refuses it', async () => {
    const { indexDir, run } = await setup();
    await run({ mode: 'build' });
    await writeFile(join(indexDir, 'CURRENT'), 'garbage\n');
    await expect(run()).rejects.toThrow(/does not name a snapshot/);
    const rebuilt = await run({ mode: 'build' });
    expect(await readCurrent(indexDir)).toBe(rebuilt.version);
    expect(rebuilt.version).toMatch(/^v000002-/);
  });
});

/**
 * Snapshots in object storage against a real S3 API server that enforces conditional writes:
 * publish and read back verified, the conditional move of CURRENT (a stale publisher loses and
 * is told; racing publishers both land, one on top of the other), corrupt files refused and never
 * cached, one download per instance, and the pruning rules.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixture, type Fixture } from '../../test/fixtures/api.js';
import { useS3 } from '../../test/fixtures/s3-env.js';
import { openEmbedder, type Embedder } from '../embedding/index.js';
import { openSnapshot } from '../index/live-snapshot.js';
import { runIndex } from '../index/reindex.js';
import { ObjectSnapshotSource } from '../index/snapshot-source.js';
import { GalleryStore } from '../index/store.js';
import { ObjectBucket } from './bucket.js';
import { ContentCache } from './content-cache.js';
import { parseObjectUri } from './location.js';
import { ObjectSnapshots } from './snapshots.js';

const s3 = useS3();
let fx: Fixture;
let embedder: Embedder;
let scratch: string;

beforeAll(async () => {
  fx = await createFixture({ identities: 3, perIdentity: 2, index: false });
  embedder = await openEmbedder(fx.modelDir, { workers: 0 });
  scratch = await mkdtemp(join(tmpdir(), 'snapshots-'));
});

afterAll(async () => {
  await embedder?.close();
  await fx?.cleanup();
  await rm(scratch, { recursive: true, force: true });
});

const run = (source: ObjectSnapshotSource, warnings: string[] = [], now?: () => Date) =>
  source.publish({ store: new GalleryStore(fx.galleryDir), embedder, mode: 'reindex', onWarning: (m) => warnings.push(m), ...(now ? { now } : {}) });

describe('snapshots in object storage', () => {
  it('publishes a snapshot (files under their hashes, then CURRENT) and reads it back verified', async () => {
    const uri = s3.prefix('index');
    const source = new ObjectSnapshotSource(uri);
    expect(await source.current()).toBeNull();
    const summary = await run(source);
    const ref = await source.current();
    expect(ref?.version).toBe(summary.version);
    const bucket = new ObjectBucket(parseObjectUri(uri));
    const keys = (await bucket.list()).map((o) => o.key).sort();
    expect(keys.filter((k) => !k.startsWith('snapshots/'))).toEqual(['CURRENT', ...Object.values(ref!.record!.files).map((f) => `files/${f.sha256}`).sort()]);
    expect(keys.filter((k) => k.startsWith('snapshots/'))).toEqual([expect.stringMatching(/^snapshots\/v000001-\d{8}T\d{6}Z\.[0-9a-f]{16}\.json$/)]);
    const local = await source.local(ref!);
    const snapshot = await openSnapshot(local.indexDir, { version: ref!.version, expect: { dim: embedder.recipe.dim, metric: embedder.recipe.metric } });
    await local.release();
    expect(snapshot.stats().images).toBe(6);
    // The publisher had every file already; another instance (its own cache) downloads them all.
    expect(local.fetch?.downloaded).toBe(0);
    const other = await new ObjectSnapshots(uri, { cache: new ContentCache(join(scratch, 'cache-other')) }).fetch(ref!.record!, join(scratch, 'open-other'));
    expect(other.timings.downloaded).toBe(4);
    expect((await openSnapshot(other.indexDir, { expect: { dim: embedder.recipe.dim, metric: embedder.recipe.metric } })).stats().images).toBe(6);
  });

  it('moves CURRENT only from the snapshot a publisher built on: a stale publisher is told, and racing re-index runs both land', async () => {
    const uri = s3.prefix('index');
    const source = new ObjectSnapshotSource(uri);
    await run(source);
    const base = await new ObjectSnapshots(uri).current();
    // Build a second snapshot locally on v1, let another run publish first, then try to publish it.
    const stage = await mkdtemp(join(scratch, 'stage-'));
    await new ObjectSnapshots(uri).fetch(base!.record, stage);
    const local = await runIndex({ indexDir: stage, store: new GalleryStore(fx.galleryDir), embedder, mode: 'reindex' });
    await run(source);
    const stale = await new ObjectSnapshots(uri).publish(join(stage, local.version), base);
    expect(stale.published).toBe(false);
    expect((await source.current())?.version).toMatch(/^v000002-/);

    // Two runs at once: one wins v000003, the other builds again on it and publishes v000004. Their clocks
    // differ by an hour: runs started within one second on the same data build byte-identical snapshots
    // (same name, same id), and the loser then rightly finds its own snapshot current.
    const warnings: string[][] = [[], []];
    const clock = (offsetMs: number) => () => new Date(Date.now() + offsetMs);
    const [a, b] = await Promise.all([run(new ObjectSnapshotSource(uri), warnings[0], clock(0)), run(new ObjectSnapshotSource(uri), warnings[1], clock(3_600_000))]);
    expect([a.version, b.version].map((v) => v.slice(0, 7)).sort()).toEqual(['v000003', 'v000004']);
    expect(warnings.flat().filter((w) => w.includes('building again'))).toHaveLength(1);
    const current = await new ObjectSnapshots(uri).current();
    expect(current?.record.version).toMatch(/^v000004-/);
    expect(current?.record.parent?.version).toMatch(/^v000003-/);
  });

  it('refuses a file whose bytes do not match its hash, and caches nothing of it', async () => {
    const uri = s3.prefix('index');
    const source = new ObjectSnapshotSource(uri);
    await run(source);
    const { record } = (await source.current())!;
    const bucket = new ObjectBucket(parseObjectUri(uri));
    const vectors = record!.files['vectors.f32'];
    const bytes = (await bucket.get(`files/${vectors.sha256}`)) as { body: Buffer };
    bytes.body[10] ^= 0xff;
    await bucket.put(`files/${vectors.sha256}`, bytes.body);
    const cache = new ContentCache(join(scratch, 'cache-corrupt'));
    const snapshots = new ObjectSnapshots(uri, { cache });
    await expect(snapshots.fetch(record!, join(scratch, 'open-corrupt'))).rejects.toMatchObject({ code: 'CORRUPT_SNAPSHOT', message: expect.stringMatching(/fails its sha256 check/) });
    expect((await readdir(cache.dir)).filter((n) => !n.startsWith('.'))).not.toContain(vectors.sha256);
    expect((await readdir(cache.dir)).filter((n) => n.endsWith('.part'))).toEqual([]);
  });

  it('downloads a file once per instance: the second fetch of a snapshot comes from the cache', async () => {
    const uri = s3.prefix('index');
    await run(new ObjectSnapshotSource(uri));
    const snapshots = new ObjectSnapshots(uri, { cache: new ContentCache(join(scratch, 'cache-once')) });
    const { record } = (await snapshots.current())!;
    const first = await snapshots.fetch(record, join(scratch, 'open-1'));
    const second = await snapshots.fetch(record, join(scratch, 'open-2'));
    expect(first.timings.downloaded).toBe(4);
    expect(second.timings).toMatchObject({ downloaded: 0, bytes: 0 });
  });

  it('prunes only what no reader can need: never CURRENT, never what was retired or uploaded within the grace period', async () => {
    const uri = s3.prefix('index');
    const source = new ObjectSnapshotSource(uri);
    await run(source);
    await run(source);
    await run(source);
    const snapshots = new ObjectSnapshots(uri);
    const bucket = new ObjectBucket(parseObjectUri(uri));
    const fileCount = async () => (await bucket.list('files/')).length;
    const before = await fileCount();
    // Within the grace period nothing goes, whatever `keep` says.
    expect(await snapshots.prune({ keep: 0, graceMs: 60 * 60 * 1000 })).toEqual({ files: [], records: [] });
    // Past it, only CURRENT's files and records stay (keep 0).
    const later = new Date(Date.now() + 2 * 60 * 60 * 1000);
    const pruned = await snapshots.prune({ keep: 0, graceMs: 60 * 60 * 1000, now: later });
    const { record } = (await snapshots.current())!;
    const currentFiles = new Set(Object.values(record.files).map((f) => `files/${f.sha256}`));
    expect((await bucket.list('files/')).map((o) => o.key).sort()).toEqual([...currentFiles].sort());
    expect(pruned.files.length).toBe(before - currentFiles.size);
    expect((await bucket.list('snapshots/')).map((o) => o.key)).toEqual([expect.stringContaining(record.version)]);
    // What is left still opens.
    const local = await source.local((await source.current())!);
    await expect(openSnapshot(local.indexDir, { expect: { dim: embedder.recipe.dim, metric: embedder.recipe.metric } })).resolves.toBeDefined();
    await local.release();
  });

  it('keeps the files of a snapshot retired within the grace period, however long ago they were uploaded: a reader may still be downloading them', async () => {
    const uri = s3.prefix('index');
    const source = new ObjectSnapshotSource(uri);
    const snapshots = new ObjectSnapshots(uri);
    const bucket = new ObjectBucket(parseObjectUri(uri));
    await run(source);
    const first = (await snapshots.current())!.record;
    await new Promise((r) => setTimeout(r, 1500));
    await run(source);
    const second = (await snapshots.current())!.record;
    // The first snapshot stopped being current when the second one's record was written.
    const retiredAt = (await bucket.list('snapshots/')).find((o) => o.key.includes(second.version))!.lastModified.getTime();
    const secondFiles = new Set(Object.values(second.files).map((f) => f.sha256));
    const firstOnly = Object.values(first.files).filter((f) => !secondFiles.has(f.sha256)).map((f) => `files/${f.sha256}`);
    expect(firstOnly.length).toBeGreaterThan(0);
    const present = async () => new Set((await bucket.list('files/')).map((o) => o.key));
    // Grace 1 s: half a second after the swap its files stay, though they were uploaded 1.5 s before it.
    await snapshots.prune({ keep: 0, graceMs: 1000, now: new Date(retiredAt + 500) });
    const kept = await present();
    expect(firstOnly.every((k) => kept.has(k))).toBe(true);
    // Past the grace period they go.
    await snapshots.prune({ keep: 0, graceMs: 1000, now: new Date(retiredAt + 1500) });
    const after = await present();
    expect(firstOnly.some((k) => after.has(k))).toBe(false);
  });
});

/**
 * Publishing to object storage under contention and crashes, against a real S3 API server that
 * enforces conditional writes: two publishers racing (20 runs), and the publisher SIGKILLed at
 * random points (20 runs) while an instance serves from the bucket.
 */
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/api/log.js';
import { openEmbedder, type Embedder } from '../src/embedding/index.js';
import { openSnapshot } from '../src/index/live-snapshot.js';
import { LocalHnswStore } from '../src/index/local-store.js';
import { listVersions } from '../src/index/snapshot.js';
import { ObjectSnapshotSource } from '../src/index/snapshot-source.js';
import { GalleryStore } from '../src/index/store.js';
import { ContentCache } from '../src/storage/content-cache.js';
import { ObjectSnapshots } from '../src/storage/snapshots.js';
import { buildLocal } from '../scripts/bench/pgvector-vectors.js';
import { clusteredVectors } from '../scripts/bench/vectors.js';
import { createFixture, type Fixture } from './fixtures/api.js';
import { useS3 } from './fixtures/s3-env.js';

const s3 = useS3();
const PUBLISHER = new URL('./fixtures/s3-publisher.ts', import.meta.url).pathname;
const RUNS = 20;
let fx: Fixture;
let embedder: Embedder;

beforeAll(async () => {
  fx = await createFixture({ identities: 3, perIdentity: 2, index: false });
  embedder = await openEmbedder(fx.modelDir, { workers: 0 });
});

afterAll(async () => {
  await embedder?.close();
  await fx?.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const expectation = () => ({ dim: embedder.recipe.dim, metric: embedder.recipe.metric, modelId: embedder.recipe.modelId });

/** Downloads what CURRENT names into a fresh folder (own cache) and opens it: every file there, every checksum right. */
async function verifyCurrent(uri: string): Promise<string> {
  const snapshots = new ObjectSnapshots(uri, { cache: new ContentCache(await mkdtemp(join(s3.scratch, 'verify-cache-'))) });
  const current = await snapshots.current();
  if (!current) throw new Error('CURRENT names nothing');
  const { indexDir } = await snapshots.fetch(current.record, await mkdtemp(join(s3.scratch, 'verify-')));
  const snapshot = await openSnapshot(indexDir, { version: current.record.version, expect: expectation() });
  return snapshot.version;
}

describe('publishing to object storage', () => {
  it(`two concurrent publishers, ${RUNS} runs: CURRENT always names a complete, verified snapshot, and neither publisher's snapshot is lost`, async () => {
    const uri = s3.prefix('race');
    const gallery = new GalleryStore(fx.galleryDir);
    // Something else reads CURRENT all along and checks every snapshot it names.
    let racing = true;
    const checked = new Set<string>();
    const problems: string[] = [];
    const watcher = (async () => {
      const snapshots = new ObjectSnapshots(uri, { cache: new ContentCache(join(s3.scratch, 'race-watcher')) });
      while (racing) {
        const current = await snapshots.current();
        if (current && !checked.has(current.record.id)) {
          checked.add(current.record.id);
          try {
            const { indexDir } = await snapshots.fetch(current.record, await mkdtemp(join(s3.scratch, 'race-open-')));
            await openSnapshot(indexDir, { version: current.record.version, expect: expectation() });
          } catch (error) {
            problems.push(`${current.record.version}: ${(error as Error).message}`);
          }
        }
        await sleep(5);
      }
    })();
    const publish = () => new ObjectSnapshotSource(uri).publish({ store: gallery, embedder, mode: 'reindex' });
    const published: string[] = [];
    try {
      for (let run = 0; run < RUNS; run++) {
        // The second publisher starts up to 300 ms later, so CURRENT moves at varying points of the other's run.
        const [a, b] = await Promise.all([publish(), sleep(Math.random() * 300).then(publish)]);
        const [older, newer] = [a.version, b.version].sort();
        const current = (await new ObjectSnapshots(uri).current())!;
        expect(current.record.version).toBe(newer);
        // The one that lost the race built again on the winner's snapshot: both are on CURRENT's line.
        expect(current.record.parent?.version).toBe(older);
        expect(await verifyCurrent(uri)).toBe(newer);
        published.push(older, newer);
      }
    } finally {
      racing = false;
      await watcher;
    }
    expect(published.map((v) => Number(v.slice(1, 7)))).toEqual(Array.from({ length: 2 * RUNS }, (_, i) => i + 1));
    expect(problems).toEqual([]);
    expect(checked.size).toBeGreaterThanOrEqual(RUNS);
  }, 300_000);

  it(`SIGKILL of the publisher at random points, ${RUNS} runs: the serving instance is unaffected and the next publish succeeds`, async () => {
    const uri = s3.prefix('kill');
    // Snapshots of different synthetic vectors (every file differs), built locally beforehand: v1 to serve, one to calibrate, then a killed and a next one per run.
    const local = join(s3.scratch, 'kill-snapshots');
    const { recipe } = embedder;
    for (let i = 0; i < 2 + 2 * RUNS; i++) {
      const set = { name: `kill-${i}`, dim: recipe.dim, vectors: clusteredVectors(300, recipe.dim, i + 1, 10), queries: new Float32Array(0) };
      await buildLocal(local, set, { M: 8, efConstruction: 32, ef: 50, randomSeed: 100 }, { id: recipe.modelId, weightsHash: recipe.weightsHash, dim: recipe.dim, metric: recipe.metric, normalized: recipe.normalized });
    }
    const versions = (await listVersions(local)).sort();
    const snapshots = new ObjectSnapshots(uri);
    const publishNow = async (version: string) => (await snapshots.publish(join(local, version), await snapshots.current())).published;
    expect(await publishNow(versions[0])).toBe(true);

    const store = new LocalHnswStore({ indexDir: uri, expect: expectation(), gallery: new GalleryStore(fx.galleryDir), embedder, log: silentLogger, pollMs: 50, watch: false });
    expect(await store.start()).toBe('swapped');
    // Searches all along: each must find 5 neighbours.
    let searching = true;
    let searches = 0;
    const failures: string[] = [];
    const query = Array.from(clusteredVectors(1, recipe.dim, 999));
    const searcher = (async () => {
      while (searching) {
        try {
          const hits = await store.reader()!.search(Float32Array.from(query), 5, { level: 'image' });
          if (hits.length !== 5) failures.push(`${hits.length} hits`);
        } catch (error) {
          failures.push((error as Error).message);
        }
        searches++;
        await sleep(2);
      }
    })();

    /** Runs the publisher process; kills it `killAfterMs` after it is ready (never if undefined). */
    const runPublisher = async (version: string, killAfterMs?: number): Promise<{ ms: number; said: string[]; killed: boolean }> => {
      const child = spawn(process.execPath, ['--import', 'tsx', PUBLISHER, join(local, version), uri, '2000'], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      const said: string[] = [];
      let ready: number | undefined;
      let signalReady: () => void = () => undefined;
      const isReady = new Promise<void>((r) => (signalReady = r));
      createInterface({ input: child.stdout }).on('line', (line) => {
        said.push(line);
        if (line === 'ready') {
          ready = performance.now();
          signalReady();
        }
      });
      await Promise.race([isReady, exited]);
      let killed = false;
      if (killAfterMs !== undefined) {
        await Promise.race([sleep(killAfterMs), exited]);
        killed = child.kill('SIGKILL') && child.exitCode === null;
      }
      await exited;
      return { ms: performance.now() - (ready ?? performance.now()), said, killed };
    };

    try {
      // An uninterrupted run sets the range the kill points are drawn from.
      const calibration = await runPublisher(versions[1]);
      expect(calibration.said).toEqual(['ready', 'published true', 'pruned']);
      const stages: string[] = [];
      for (let run = 0; run < RUNS; run++) {
        const { said, killed } = await runPublisher(versions[2 + 2 * run], Math.random() * calibration.ms);
        stages.push(killed ? `killed after "${said.at(-1)}"` : 'finished');
        // CURRENT names a complete snapshot that passes its checks, whatever the kill interrupted.
        await verifyCurrent(uri);
        // The next publish succeeds, and the instance serves it within a few polls.
        const next = versions[3 + 2 * run];
        expect(await publishNow(next)).toBe(true);
        const started = performance.now();
        while (store.reader()?.generation !== next) {
          if (performance.now() - started > 5000) throw new Error(`run ${run}: ${next} not served within 5 s (serving ${store.reader()?.generation})`);
          await sleep(10);
        }
      }
      // Kills landed before the publish finished as well as after it.
      expect(stages.filter((s) => s === 'killed after "ready"').length).toBeGreaterThan(0);
      expect(stages.filter((s) => s !== 'killed after "ready"').length).toBeGreaterThan(0);
    } finally {
      searching = false;
      await searcher;
      await store.close();
    }
    expect(failures).toEqual([]);
    expect(searches).toBeGreaterThan(100);
    expect(store.status()).toMatchObject({ refused: null, reloadFailures: 0 });
  }, 300_000);
});

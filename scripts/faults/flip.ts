/**
 * One flipped byte in the snapshot CURRENT names (bit rot): the reload refuses it, /readyz says
 * degraded, the old snapshot keeps serving; a fresh start refuses it too; an incremental re-index
 * refuses to start from it, and a full build recovers.
 */
import { cp, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bearer, createFixture, READ_KEY, syntheticPng } from '../../test/fixtures/api.js';
import { createRng } from '../../src/data/rng.js';
import { openEmbedder } from '../../src/embedding/index.js';
import { runIndex } from '../../src/index/reindex.js';
import { switchCurrent } from '../../src/index/snapshot.js';
import { GalleryStore } from '../../src/index/store.js';
import { serveFixture, type FixtureServer } from '../server/fixture.js';
import { readyz, sleep, waitForVersion } from './fixture.js';

export interface FlipResult {
  servingBefore: string;
  corrupted: string;
  /** The file and byte offset flipped. */
  flipped: { file: string; offset: number };
  readyz: { http: number; status: string; refusedCode: string | null; serving: string | null };
  metricsRefused: boolean;
  reloadFailures: number;
  /** Searches during the episode: statuses and the versions they were answered from. */
  searches: Record<string, number>;
  searchVersions: string[];
  /** A server started fresh on the corrupted CURRENT: its /readyz. */
  freshStart: { http: number; status: string; refusedCode: string | null };
  /** What an incremental re-index says over the damaged snapshot. */
  reindexRefusal: string;
  /** After a full build: served again, not degraded. */
  recovered: { version: string; status: string };
}

/**
 * @example
 * const r = await flippedByte(); r.readyz.status // 'degraded'
 */
export async function flippedByte(options: { file?: 'hnsw.bin' | 'vectors.f32' | 'manifest.json'; seed?: number } = {}): Promise<FlipResult> {
  const file = options.file ?? 'hnsw.bin';
  const rng = createRng(options.seed ?? 1);
  const fx = await createFixture({ identities: 4, perIdentity: 3 });
  let server: FixtureServer | null = await serveFixture(fx, { RELOAD_POLL_MS: '100' }, { keepFixture: true });
  try {
    const url = server.url;
    const servingBefore = (await readyz(url)).body.index.version ?? '';
    // Build the next snapshot in a copy of index/, flip one byte, then install it as the live one
    // (folder rename + atomic CURRENT switch): CURRENT names a damaged snapshot, as after bit rot.
    const staging = join(fx.dir, 'staging');
    await cp(fx.indexDir, staging, { recursive: true });
    await writeFile(join(fx.galleryDir, 'id000', 'flip.png'), await syntheticPng(424_242));
    const embedder = await openEmbedder(fx.modelDir, { workers: 0 });
    let corrupted: string;
    try {
      corrupted = (await runIndex({ indexDir: staging, store: new GalleryStore(fx.galleryDir), embedder, mode: 'reindex' })).version;
    } finally {
      await embedder.close();
    }
    const target = join(staging, corrupted, file);
    const bytes = await readFile(target);
    const offset = rng.int(bytes.length);
    bytes[offset] ^= 0x01 << rng.int(8);
    await writeFile(target, bytes);
    await rename(join(staging, corrupted), join(fx.indexDir, corrupted));
    const png = await syntheticPng(1001);
    const searches: Record<string, number> = {};
    const versions = new Set<string>();
    const searchOnce = async (): Promise<void> => {
      const res = await fetch(`${url}/v1/search`, { method: 'POST', body: png, headers: bearer(READ_KEY) });
      searches[String(res.status)] = (searches[String(res.status)] ?? 0) + 1;
      if (res.status === 200) versions.add(((await res.json()) as { index: { version: string } }).index.version);
      else await res.arrayBuffer();
    };
    await searchOnce();
    await switchCurrent(fx.indexDir, corrupted);
    let ready = await readyz(url);
    for (let i = 0; i < 200 && !ready.body.index.refused; i++) {
      await searchOnce();
      await sleep(25);
      ready = await readyz(url);
    }
    for (let i = 0; i < 20; i++) await searchOnce();
    const metrics = await (await fetch(`${url}/metrics`, { headers: bearer(READ_KEY) })).text();
    const metricsRefused = new RegExp(`twinsearch_index_refused\\{[^}]*version="${corrupted}"[^}]*\\} 1`).test(metrics);
    const reloadFailures = Number(/^twinsearch_index_reload_failures(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1] ?? NaN);

    // A fresh process on the damaged CURRENT refuses it too (and has nothing older loaded).
    await server.close();
    server = await serveFixture(fx, { RELOAD_POLL_MS: '100' }, { keepFixture: true });
    const fresh = await readyz(server.url);

    // Recovery: an incremental re-index refuses to start from a damaged snapshot ("run a full build"), so the operator runs one.
    const recoverEmbedder = await openEmbedder(fx.modelDir, { workers: 0 });
    let good: string;
    let reindexRefusal = '';
    try {
      reindexRefusal = await runIndex({ indexDir: fx.indexDir, store: new GalleryStore(fx.galleryDir), embedder: recoverEmbedder, mode: 'reindex' }).then(
        () => 'accepted',
        (error: Error) => `${(error as { code?: string }).code}: ${error.message}`,
      );
      good = (await runIndex({ indexDir: fx.indexDir, store: new GalleryStore(fx.galleryDir), embedder: recoverEmbedder, mode: 'build' })).version;
    } finally {
      await recoverEmbedder.close();
    }
    await waitForVersion(server.url, good);
    const after = await readyz(server.url);
    return {
      servingBefore,
      corrupted,
      flipped: { file, offset },
      readyz: { http: ready.http, status: ready.body.status, refusedCode: ready.body.index.refused?.code ?? null, serving: ready.body.index.version },
      metricsRefused,
      reloadFailures,
      searches,
      searchVersions: [...versions],
      freshStart: { http: fresh.http, status: fresh.body.status, refusedCode: fresh.body.index.refused?.code ?? null },
      reindexRefusal,
      recovered: { version: after.body.index.version ?? '', status: after.body.status },
    };
  } finally {
    await server?.close();
    await fx.cleanup();
  }
}


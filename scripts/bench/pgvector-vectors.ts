/**
 * The vector half of the store benchmark: the same vectors loaded into a generation of each
 * store (local HNSW snapshot; pgvector table + HNSW index), then searched through the stores'
 * own readers (`StoreReader.search`, what the API calls): recall@k against the exact scan and
 * queries/s at several ef; build time, size, cold start, and enrolments per second.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Embedder } from '../../src/embedding/index.js';
import { sha256Bytes } from '../../src/index/checksums.js';
import { exactSearch, recallAtK } from '../../src/index/exact.js';
import { addRows, createHnsw } from '../../src/index/hnsw.js';
import { imageId } from '../../src/index/ids.js';
import { HNSW_FILE, type HnswParams } from '../../src/index/manifest.js';
import { buildIndexes, createGeneration, loadRows, publishGeneration } from '../../src/index/pgvector/build.js';
import type { Pool } from '../../src/index/pgvector/pool.js';
import { ensureSchema, names } from '../../src/index/pgvector/schema.js';
import { publishSnapshot } from '../../src/index/reindex.js';
import { openStore } from '../../src/index/open-store.js';
import { GalleryStore } from '../../src/index/store.js';
import type { StoreReader, VectorStore } from '../../src/index/vector-store.js';

const log = pino({ level: 'silent' });

export interface VectorSet {
  name: string;
  dim: number;
  /** Indexed rows (row i gets label i in both stores). */
  vectors: Float32Array;
  /** Held-out queries (not indexed). */
  queries: Float32Array;
}

export interface EngineRun {
  store: 'local' | 'pgvector';
  /** Seconds to build and publish the generation from vectors in memory. */
  buildSeconds: number;
  /** What the generation takes: hnsw.bin, or the table with its indexes (and the HNSW index alone). */
  sizeMiB: number;
  graphMiB: number;
  /** `store.start()` on a fresh instance: load the snapshot, or read the pointer. */
  coldStartMs: number;
  /** Enrolments (one image, its vector given) acknowledged per second, one after another. */
  enrolPerSecond: number;
  rows: { ef: number; recall: number; qps: number; msPerQuery: number }[];
  exact?: { recall: number; qps: number; msPerQuery: number };
}

export interface VectorBenchResult {
  name: string;
  count: number;
  dim: number;
  queries: number;
  k: number;
  params: Pick<HnswParams, 'M' | 'efConstruction'>;
  exactJs: { qps: number; msPerQuery: number };
  runs: EngineRun[];
}

const round = (x: number, digits = 4): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** One catalogue entry per row: identity by row (10 images each), a content hash standing in for the image's. */
export function entryOf(i: number): { identity: string; origin: 'folder'; source: string; sha256: string; size: number } {
  const identity = `p${String(Math.floor(i / 10)).padStart(6, '0')}`;
  return { identity, origin: 'folder', source: `${identity}/${i % 10}.png`, sha256: sha256Bytes(Buffer.from(`row ${i}`)), size: 0 };
}

/** The model a synthetic snapshot claims (a server only opens a snapshot of its own model). */
export type SnapshotModel = Parameters<typeof publishSnapshot>[1]['model'];

/**
 * Builds a local HNSW snapshot of `set` (row i = label i = `entryOf(i)`) and publishes it in `dir`.
 *
 * @example
 * await buildLocal('tmp/index', set, { M: 16, efConstruction: 200, ef: 100, randomSeed: 100 });
 */
export async function buildLocal(dir: string, set: VectorSet, params: HnswParams, model?: SnapshotModel): Promise<{ seconds: number; sizeMiB: number; version: string }> {
  const count = set.vectors.length / set.dim;
  const started = performance.now();
  const index = createHnsw(set.dim, count, params);
  const rows = Array.from({ length: count }, (_, i) => i);
  await addRows(index, set.vectors, set.dim, rows, rows);
  const { manifest } = await publishSnapshot(dir, {
    index,
    vectors: set.vectors,
    model: model ?? { id: `bench-${set.name}`, weightsHash: 'none', dim: set.dim, metric: 'l2', normalized: true },
    params,
    parent: null,
    deletedLabels: [],
    nextLabel: count,
    build: { mode: 'full', reason: 'benchmark', added: count, changed: 0, removed: 0, unchanged: 0, embedded: 0, seconds: 0 },
    gallery: { root: dir, store: dir, journalSeq: 0 },
    entries: rows.map((i) => ({ label: i, ...entryOf(i) })),
  });
  const seconds = (performance.now() - started) / 1000;
  return { seconds, sizeMiB: (await stat(join(dir, manifest.version, HNSW_FILE))).size / 2 ** 20, version: manifest.version };
}

async function buildPg(pool: Pool, schema: string, set: VectorSet, params: HnswParams): Promise<{ seconds: number; sizeMiB: number; graphMiB: number }> {
  const n = names(schema);
  await ensureSchema(pool, n);
  const count = set.vectors.length / set.dim;
  const started = performance.now();
  const g = await createGeneration(pool, n, {
    model: { id: `bench-${set.name}`, weightsHash: 'none', dim: set.dim, metric: 'l2', normalized: true },
    params,
    journalSeq: 0,
    build: { mode: 'full', reason: 'benchmark', seconds: 0 },
  });
  const rows = Array.from({ length: count }, (_, i) => ({ id: imageId(entryOf(i).identity, entryOf(i).sha256), ...entryOf(i) }));
  await loadRows(pool, n, g, rows, set.vectors, { labels: rows.map((_, i) => i) });
  await buildIndexes(pool, g);
  await publishGeneration(pool, n, g, async () => new Map());
  const seconds = (performance.now() - started) / 1000;
  const sizes = await pool.query<{ total: string; graph: string }>(
    `SELECT pg_total_relation_size($1::regclass) AS total, (SELECT sum(pg_relation_size(i.indexrelid)) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam WHERE i.indrelid = $1::regclass AND a.amname = 'hnsw') AS graph`,
    [g.tab],
  );
  return { seconds, sizeMiB: Number(sizes.rows[0].total) / 2 ** 20, graphMiB: Number(sizes.rows[0].graph) / 2 ** 20 };
}

/** Sequential searches through a reader: labels of the k nearest per query, and queries/s. */
async function measure(reader: StoreReader, set: VectorSet, k: number, options: { ef?: number; exact?: boolean }, limit?: number): Promise<{ labels: number[][]; qps: number }> {
  const q = Math.min(limit ?? Infinity, set.queries.length / set.dim);
  const labels: number[][] = [];
  const started = performance.now();
  for (let i = 0; i < q; i++) {
    const hits = await reader.search(set.queries.subarray(i * set.dim, (i + 1) * set.dim), k, { ...options, level: 'image' });
    labels.push(hits.map((h) => h.label));
  }
  return { labels, qps: q / ((performance.now() - started) / 1000) };
}

async function enrolRate(store: VectorStore, dim: number, count: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const vector = Float32Array.from({ length: dim }, (_, j) => Math.sin(i * 31 + j));
    await store.enrol(`enrolled${String(i).padStart(5, '0')}`, [{ bytes: new TextEncoder().encode(`image bytes ${i}`), vector }]);
  }
  return count / ((performance.now() - started) / 1000);
}

export interface VectorBenchOptions {
  k: number;
  efs: number[];
  params: HnswParams;
  /** Queries for the (slow) exact scan in Postgres. */
  exactQueries: number;
  enrolments: number;
  /** Any embedder (stores need one for catch-up; nothing is embedded here). */
  embedder: Embedder;
  pool: Pool;
  databaseUrl: string;
  log?: (line: string) => void;
}

/**
 * @example
 * const r = await runVectorBench({ name: 'synthetic', dim: 64, vectors, queries }, { k: 10, efs: [20, 40, 100], params, … });
 */
export async function runVectorBench(set: VectorSet, o: VectorBenchOptions): Promise<VectorBenchResult> {
  const say = o.log ?? (() => {});
  const count = set.vectors.length / set.dim;
  const nq = set.queries.length / set.dim;
  let started = performance.now();
  const truth = Array.from({ length: nq }, (_, i) => exactSearch(set.vectors, set.dim, set.queries.subarray(i * set.dim, (i + 1) * set.dim), o.k).map((h) => h.row));
  const exactSeconds = (performance.now() - started) / 1000;
  const runs: EngineRun[] = [];
  const work = await mkdtemp(join(tmpdir(), 'bench-stores-'));
  const schema = `bench_${set.name.replace(/[^a-z0-9]/g, '_')}_${process.pid}`;
  try {
    for (const kind of ['local', 'pgvector'] as const) {
      say(`${set.name}: building the ${kind} generation (${count} x ${set.dim})`);
      const indexDir = join(work, 'index');
      const built = kind === 'local' ? { ...(await buildLocal(indexDir, set, o.params)), graphMiB: 0 } : await buildPg(o.pool, schema, set, o.params);
      if (kind === 'local') built.graphMiB = built.sizeMiB;
      const open = (): VectorStore =>
        openStore({ kind, indexDir, databaseUrl: o.databaseUrl, schema, poolMax: 2, gallery: new GalleryStore(join(work, 'gallery')), expect: { dim: set.dim, metric: 'l2' }, embedder: o.embedder, log, pollMs: 0, watch: false });
      const store = open();
      started = performance.now();
      await store.start();
      const coldStartMs = performance.now() - started;
      const reader = store.reader() as StoreReader;
      // Warm-up: one pass over every query at the largest ef, so both stores start with their pages in memory.
      await measure(reader, set, o.k, { ef: Math.max(...o.efs) });
      const rows: EngineRun['rows'] = [];
      for (const ef of o.efs) {
        const { labels, qps } = await measure(reader, set, o.k, { ef });
        rows.push({ ef, recall: round(recallAtK(labels, truth, o.k)), qps: round(qps, 1), msPerQuery: round(1000 / qps, 3) });
        say(`${set.name} ${kind} ef ${ef}: recall ${rows.at(-1)?.recall} at ${rows.at(-1)?.qps} q/s`);
      }
      let exact: EngineRun['exact'];
      if (store.capabilities.exact) {
        const { labels, qps } = await measure(reader, set, o.k, { exact: true }, o.exactQueries);
        exact = { recall: round(recallAtK(labels, truth.slice(0, labels.length), o.k)), qps: round(qps, 2), msPerQuery: round(1000 / qps, 2) };
      }
      const enrolPerSecond = await enrolRate(store, set.dim, o.enrolments);
      await store.close();
      runs.push({ store: kind, buildSeconds: round(built.seconds, 2), sizeMiB: round(built.sizeMiB, 1), graphMiB: round(built.graphMiB, 1), coldStartMs: round(coldStartMs, 1), enrolPerSecond: round(enrolPerSecond, 1), rows, exact });
    }
  } finally {
    await o.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
  return { name: set.name, count, dim: set.dim, queries: nq, k: o.k, params: { M: o.params.M, efConstruction: o.params.efConstruction }, exactJs: { qps: round(nq / exactSeconds, 1), msPerQuery: round((exactSeconds * 1000) / nq, 2) }, runs };
}

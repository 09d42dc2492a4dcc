/**
 * One engine of the ANN benchmark (see ann.ts) in its own process, so its memory is its
 * own: loads the vectors, builds the index on one thread, writes it to disk, then times k-NN
 * queries one at a time (as a server asks them) across ef and scores recall against the truth.
 * Prints one JSON line.
 *
 *   node --expose-gc --import tsx scripts/bench/ann-child.ts '<json AnnChildJob>'
 */
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import usearch from 'usearch';
import { recallAtK } from '../../src/index/exact.js';
import { addRows, createHnsw, loadHnsw } from '../../src/index/hnsw.js';
import { bytesToVectors } from '../../src/index/vectors.js';

export type AnnEngine = 'hnswlib' | 'usearch' | 'usearch-exact';

export interface AnnChildJob {
  engine: AnnEngine;
  dim: number;
  /** Float32 rows to index, queries, and the true k nearest rows of each query (Int32, k per query). */
  vectorsFile: string;
  queriesFile: string;
  truthFile: string;
  k: number;
  M: number;
  efConstruction: number;
  efs: number[];
  /** Folder for the saved index (deleted afterwards). */
  scratch: string;
}

export interface AnnCurvePoint {
  ef: number;
  recall: number;
  /** One query per call, one thread. */
  qps: number;
  msPerQuery: number;
  /** All queries in one call, one thread (usearch only: shows the per-call overhead of its binding). */
  batchQps?: number;
}

export interface AnnChildResult {
  engine: AnnEngine;
  M: number;
  efConstruction: number;
  count: number;
  buildSeconds: number;
  insertsPerSecond: number;
  /** RSS growth from before the build to after it (after a GC), MiB. */
  buildRssMiB: number;
  rssAfterMiB: number;
  fileMiB: number;
  saveSeconds: number;
  loadSeconds: number;
  rows: AnnCurvePoint[];
}

const MiB = 2 ** 20;

async function readF32(path: string): Promise<Float32Array> {
  return bytesToVectors(await readFile(path));
}

function settledRss(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss / MiB;
}

function timed<T>(f: () => T): { value: T; seconds: number } {
  const started = performance.now();
  const value = f();
  return { value, seconds: (performance.now() - started) / 1000 };
}

async function runHnswlib(job: AnnChildJob, vectors: Float32Array, queries: number[][], truth: number[][]): Promise<Omit<AnnChildResult, 'engine' | 'M' | 'efConstruction' | 'count'>> {
  const count = vectors.length / job.dim;
  const before = settledRss();
  const started = performance.now();
  // twinsearch's own build path (src/index/hnsw.ts): plain-array rows, yielding between chunks.
  const index = createHnsw(job.dim, count, { M: job.M, efConstruction: job.efConstruction, ef: 10, randomSeed: 100 });
  const rows = Array.from({ length: count }, (_, i) => i);
  await addRows(index, vectors, job.dim, rows, rows, undefined, 10_000);
  const buildSeconds = (performance.now() - started) / 1000;
  const rssAfterMiB = settledRss();
  const file = join(job.scratch, `hnswlib-M${job.M}.bin`);
  let t = performance.now();
  await index.writeIndex(file);
  const saveSeconds = (performance.now() - t) / 1000;
  const fileMiB = (await stat(file)).size / MiB;
  t = performance.now();
  const loaded = await loadHnsw(file, job.dim, 10);
  const loadSeconds = (performance.now() - t) / 1000;
  await rm(file);
  const points: AnnCurvePoint[] = [];
  for (const ef of job.efs) {
    loaded.setEf(ef);
    const { value: found, seconds } = timed(() => queries.map((q) => loaded.searchKnn(q, job.k).neighbors));
    points.push({ ef, recall: recallAtK(found, truth, job.k), qps: queries.length / seconds, msPerQuery: (seconds * 1000) / queries.length });
  }
  return { buildSeconds, insertsPerSecond: count / buildSeconds, buildRssMiB: rssAfterMiB - before, rssAfterMiB, fileMiB, saveSeconds, loadSeconds, rows: points };
}

function usearchIndex(job: AnnChildJob, ef: number): InstanceType<typeof usearch.Index> {
  return new usearch.Index({
    metric: usearch.MetricKind.L2sq, quantization: usearch.ScalarKind.F32, multi: false,
    dimensions: job.dim, connectivity: job.M, expansion_add: job.efConstruction, expansion_search: ef,
  });
}

const keysOf = (m: { keys: BigUint64Array }, k: number): number[] => Array.from(m.keys.subarray(0, k), Number);

async function runUsearch(job: AnnChildJob, vectors: Float32Array, queryRows: Float32Array[], truth: number[][]): Promise<Omit<AnnChildResult, 'engine' | 'M' | 'efConstruction' | 'count'>> {
  const count = vectors.length / job.dim;
  const before = settledRss();
  const keys = BigUint64Array.from({ length: count }, (_, i) => BigInt(i));
  const started = performance.now();
  const index = usearchIndex(job, job.efs[0] ?? 64);
  index.add(keys, vectors, 1); // one thread, like hnswlib-node's addPoint
  const buildSeconds = (performance.now() - started) / 1000;
  const rssAfterMiB = settledRss();
  const file = join(job.scratch, `usearch-M${job.M}.bin`);
  let t = performance.now();
  index.save(file);
  const saveSeconds = (performance.now() - t) / 1000;
  const fileMiB = (await stat(file)).size / MiB;
  let loadSeconds = 0;
  const all = new Float32Array(queryRows.length * job.dim);
  queryRows.forEach((q, i) => all.set(q, i * job.dim));
  const points: AnnCurvePoint[] = [];
  // usearch fixes the search expansion when an index is made: load the saved graph once per ef.
  for (const ef of job.efs) {
    const loaded = usearchIndex(job, ef);
    t = performance.now();
    loaded.load(file);
    loadSeconds = (performance.now() - t) / 1000;
    const single = timed(() => queryRows.map((q) => keysOf(loaded.search(q, job.k, 1), job.k)));
    const batch = timed(() => loaded.search(all, job.k, 1));
    points.push({
      ef,
      recall: recallAtK(single.value, truth, job.k),
      qps: queryRows.length / single.seconds,
      msPerQuery: (single.seconds * 1000) / queryRows.length,
      batchQps: queryRows.length / batch.seconds,
    });
  }
  await rm(file);
  return { buildSeconds, insertsPerSecond: count / buildSeconds, buildRssMiB: rssAfterMiB - before, rssAfterMiB, fileMiB, saveSeconds, loadSeconds, rows: points };
}

/** usearch's brute-force scan (SIMD, one thread, all queries in one call): a second exact baseline. */
function runUsearchExact(job: AnnChildJob, vectors: Float32Array, queryRows: Float32Array[], truth: number[][]): Omit<AnnChildResult, 'engine' | 'M' | 'efConstruction' | 'count'> {
  const count = vectors.length / job.dim;
  const all = new Float32Array(queryRows.length * job.dim);
  queryRows.forEach((q, i) => all.set(q, i * job.dim));
  const { value, seconds } = timed(() => usearch.exactSearch(vectors, all, job.dim, job.k, usearch.MetricKind.L2sq, 1));
  const found = queryRows.map((_, i) => Array.from((value as { keys: BigUint64Array }).keys.subarray(i * job.k, (i + 1) * job.k), Number));
  const qps = queryRows.length / seconds;
  return {
    buildSeconds: 0, insertsPerSecond: 0, buildRssMiB: 0, rssAfterMiB: settledRss(), fileMiB: (count * job.dim * 4) / MiB, saveSeconds: 0, loadSeconds: 0,
    rows: [{ ef: 0, recall: recallAtK(found, truth, job.k), qps, msPerQuery: 1000 / qps }],
  };
}

/**
 * @example
 * const r = await runAnnChild({ engine: 'usearch', dim: 64, vectorsFile, queriesFile, truthFile, k: 10, M: 16, efConstruction: 200, efs: [20, 100], scratch });
 */
export async function runAnnChild(job: AnnChildJob): Promise<AnnChildResult> {
  const vectors = await readF32(job.vectorsFile);
  const queryData = await readF32(job.queriesFile);
  const truthData = new Int32Array((await readFile(job.truthFile)).buffer.slice(0));
  const queryCount = queryData.length / job.dim;
  const queryRows = Array.from({ length: queryCount }, (_, i) => queryData.subarray(i * job.dim, (i + 1) * job.dim));
  const truth = Array.from({ length: queryCount }, (_, i) => Array.from(truthData.subarray(i * job.k, (i + 1) * job.k)).filter((id) => id >= 0));
  const base = { engine: job.engine, M: job.M, efConstruction: job.efConstruction, count: vectors.length / job.dim };
  switch (job.engine) {
    case 'hnswlib':
      return { ...base, ...(await runHnswlib(job, vectors, queryRows.map((q) => Array.from(q)), truth)) };
    case 'usearch':
      return { ...base, ...(await runUsearch(job, vectors, queryRows, truth)) };
    case 'usearch-exact':
      return { ...base, ...runUsearchExact(job, vectors, queryRows, truth) };
  }
}

if (process.argv[1]?.endsWith('ann-child.ts')) {
  const result = await runAnnChild(JSON.parse(process.argv[2] ?? '{}') as AnnChildJob);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

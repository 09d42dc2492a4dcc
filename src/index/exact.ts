/**
 * Exact (brute-force) k nearest neighbours over the same float32 vectors an HNSW snapshot holds.
 * It is the ground truth for recall measurements and a fine search for tiny galleries
 * (a 64-d scan costs about 0.3 microseconds per vector in a tight loop).
 */
import type { Metric } from '../model/config.js';
import { distanceFromRaw } from './distance.js';

export interface ExactHit {
  /** Row of the vector table. */
  row: number;
  /** Distance in the metric asked for (see distance.ts). */
  distance: number;
}

export interface ExactOptions {
  /** Rows for which this returns false are skipped (deleted points). */
  isLive?: (row: number) => boolean;
  /** Number of rows to scan (default: all complete rows of `table`). */
  rows?: number;
  /** Units of the returned distances: `l2` (Euclidean, default) or `cosine` (1 - cos, for unit rows). */
  metric?: Metric;
}

/**
 * The `k` rows of `table` closest to `query`, nearest first.
 *
 * Keeps the best k in a sorted buffer (insertion), which beats a heap for the small k search uses.
 *
 * @example
 * const table = new Float32Array([0, 0, 1, 0, 5, 5]); // three 2-d rows
 * exactSearch(table, 2, [0.9, 0], 2) // [{ row: 1, distance: 0.1 }, { row: 0, distance: 0.9 }]
 */
export function exactSearch(table: Float32Array, dim: number, query: ArrayLike<number>, k: number, options: ExactOptions = {}): ExactHit[] {
  if (query.length !== dim) throw new RangeError(`query has ${query.length} dimensions, the table ${dim}`);
  const n = options.rows ?? Math.floor(table.length / dim);
  const limit = Math.min(k, n);
  if (limit <= 0) return [];
  const bestRow = new Int32Array(limit);
  const bestDist = new Float64Array(limit).fill(Infinity);
  let filled = 0;
  const q = Float32Array.from(query);
  const isLive = options.isLive;
  const metric = options.metric ?? 'l2';
  for (let row = 0; row < n; row++) {
    if (isLive && !isLive(row)) continue;
    let sum = 0;
    const base = row * dim;
    for (let j = 0; j < dim; j++) {
      const diff = q[j] - table[base + j];
      sum += diff * diff;
    }
    if (filled === limit && sum >= bestDist[limit - 1]) continue;
    let i = filled < limit ? filled++ : limit - 1;
    while (i > 0 && bestDist[i - 1] > sum) {
      bestDist[i] = bestDist[i - 1];
      bestRow[i] = bestRow[i - 1];
      i--;
    }
    bestDist[i] = sum;
    bestRow[i] = row;
  }
  const hits: ExactHit[] = [];
  for (let i = 0; i < filled; i++) hits.push({ row: bestRow[i], distance: distanceFromRaw(metric, bestDist[i]) });
  return hits;
}

/**
 * Recall@k of approximate results against exact ones: the mean fraction of each query's true k
 * nearest neighbours that the approximate search returned.
 *
 * @example
 * recallAtK([[1, 2, 3]], [[1, 2, 4]], 3) // 0.6666666666666666
 */
export function recallAtK(approximate: readonly (readonly number[])[], exact: readonly (readonly number[])[], k: number): number {
  if (approximate.length !== exact.length) throw new RangeError('recallAtK: different numbers of queries');
  if (exact.length === 0) return 1;
  let total = 0;
  for (let q = 0; q < exact.length; q++) {
    const truth = exact[q].slice(0, k);
    if (truth.length === 0) {
      total += 1;
      continue;
    }
    const found = new Set(approximate[q].slice(0, k));
    let hit = 0;
    for (const id of truth) if (found.has(id)) hit++;
    total += hit / truth.length;
  }
  return total / exact.length;
}

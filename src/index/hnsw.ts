/**
 * Thin helpers around hnswlib-node's HierarchicalNSW: creation, float32 rows in, chunked adds
 * with progress, and loading into a NEW instance.
 *
 * Rules learned from crashes of hnswlib-node 3.0: an async readIndex into an instance being
 * searched segfaulted, and adding points during an async writeIndex wrote a corrupt file — so
 * never mix a read or write of the file with other operations on the same instance, and load
 * each snapshot into its own instance. `ef` resets to 10 on every load, so set it after.
 * Vectors must be plain arrays (a Float32Array is rejected), labels uint32.
 */
import hnswlib from 'hnswlib-node';
import { HNSW_SPACE } from './distance.js';
import type { HnswParams } from './manifest.js';

const { HierarchicalNSW } = hnswlib;
export type Hnsw = InstanceType<typeof HierarchicalNSW>;

/** Defaults chosen from the measured recall/speed curve (docs/index.md, "Choosing the defaults"). */
export const DEFAULT_HNSW_PARAMS: HnswParams = { M: 16, efConstruction: 200, ef: 100, randomSeed: 100 };

/**
 * A new, empty index with room for `capacity` points.
 *
 * @example
 * const index = createHnsw(64, 10_000, DEFAULT_HNSW_PARAMS);
 */
export function createHnsw(dim: number, capacity: number, params: HnswParams): Hnsw {
  const index = new HierarchicalNSW(HNSW_SPACE, dim);
  index.initIndex({ maxElements: Math.max(1, capacity), m: params.M, efConstruction: params.efConstruction, randomSeed: params.randomSeed });
  index.setEf(params.ef);
  return index;
}

/**
 * Loads hnsw.bin into a fresh instance and sets `ef` (readIndex resets it to 10).
 *
 * @example
 * const index = await loadHnsw('index/v000003-…/hnsw.bin', 64, 100);
 */
export async function loadHnsw(path: string, dim: number, ef: number): Promise<Hnsw> {
  const index = new HierarchicalNSW(HNSW_SPACE, dim);
  await index.readIndex(path);
  index.setEf(ef);
  return index;
}

/** Grows the capacity (if needed) so `extra` more points fit, with 25% headroom. */
export function ensureCapacity(index: Hnsw, extra: number): void {
  const needed = index.getCurrentCount() + extra;
  if (needed > index.getMaxElements()) index.resizeIndex(Math.ceil(needed * 1.25));
}

/** A row of row-major float32 data as the plain array hnswlib wants. */
export function rowArray(data: Float32Array, row: number, dim: number): number[] {
  return Array.from(data.subarray(row * dim, (row + 1) * dim));
}

/**
 * Adds points (`rows[i]` of `data` under `labels[i]`), yielding to the event loop every
 * `chunk` points so a progress bar can redraw. hnswlib's addPoint is synchronous.
 *
 * @example
 * await addRows(index, vectors, 64, [0, 1, 2], [7, 8, 9], (done, total) => bar.update(done));
 */
export async function addRows(
  index: Hnsw,
  data: Float32Array,
  dim: number,
  rows: readonly number[],
  labels: readonly number[],
  onProgress?: (done: number, total: number) => void,
  chunk = 2000,
): Promise<void> {
  if (rows.length !== labels.length) throw new RangeError('addRows: rows and labels differ in length');
  ensureCapacity(index, rows.length);
  for (let i = 0; i < rows.length; i++) {
    index.addPoint(rowArray(data, rows[i], dim), labels[i]);
    if ((i + 1) % chunk === 0 || i + 1 === rows.length) {
      onProgress?.(i + 1, rows.length);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

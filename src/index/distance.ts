/**
 * The one place where hnswlib's raw distances become the distances twinsearch reports.
 *
 * Every snapshot uses hnswlib's `l2` space, whose raw value is the SQUARED Euclidean distance.
 * Reported distances are in the model card's metric, the same units as its thresholds and as
 * `distance(metric, a, b)` in src/model/embed.ts:
 * - `l2`: Euclidean distance between the stored embeddings, sqrt(raw);
 * - `cosine`: 1 - cos(a, b). Vectors of a cosine model are stored L2-normalised, and for unit
 *   vectors |a - b|^2 = 2 - 2 cos, so 1 - cos = raw / 2. Ranking by raw l2 on unit vectors is
 *   ranking by cosine, so one hnswlib space serves both metrics.
 */
import type { Metric } from '../model/config.js';

/** hnswlib space every snapshot uses. */
export const HNSW_SPACE = 'l2' as const;

/**
 * Raw squared Euclidean distance (hnswlib `l2`, or the exact scan) → distance in the model's
 * metric. Rounding can make a self-match slightly negative; clamp it.
 *
 * @example
 * distanceFromRaw('l2', 0.25)     // 0.5
 * distanceFromRaw('cosine', 0.25) // 0.125 (= 1 - cos for unit vectors)
 */
export function distanceFromRaw(metric: Metric, raw: number): number {
  const squared = Math.max(0, raw);
  return metric === 'cosine' ? squared / 2 : Math.sqrt(squared);
}

/**
 * Scales each `dim`-wide row of `data` to unit length in place (zero rows stay zero).
 *
 * @example
 * const v = new Float32Array([3, 4]); normalizeRowsInPlace(v, 2); // v = [0.6, 0.8]
 */
export function normalizeRowsInPlace(data: Float32Array, dim: number): Float32Array {
  for (let base = 0; base < data.length; base += dim) {
    let sum = 0;
    for (let j = 0; j < dim; j++) sum += data[base + j] * data[base + j];
    if (sum === 0) continue;
    const inv = 1 / Math.sqrt(sum);
    for (let j = 0; j < dim; j++) data[base + j] *= inv;
  }
  return data;
}

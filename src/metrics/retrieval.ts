/**
 * Retrieval metrics on a labelled embedding set, as Musgrave, Belongie & Lim 2020 ("A Metric Learning
 * Reality Check") recommend: P@1 (= rank-1), R-precision and MAP@R. Pure functions on plain arrays.
 */

/** Retrieval scores averaged over queries (Musgrave et al. 2020). */
export interface RetrievalMetrics {
  /** Fraction of queries whose nearest other item has the same label. */
  precisionAt1: number;
  /** Mean over queries of the fraction of the R nearest items that are relevant. */
  rPrecision: number;
  /** Mean over queries of (1/R) * sum_{i<=R} P(i) * rel(i). */
  mapAtR: number;
  /** Rank-1 identification accuracy (nearest-neighbour identification): equal to P@1. */
  rank1: number;
  /** Queries scored. */
  queries: number;
  /** Queries skipped because no other item shares their label. */
  queriesSkipped: number;
}

/**
 * Leave-one-out retrieval on a labelled embedding set: every item is a query against all the others.
 * For a query with R other items of its label, all others are ranked by distance and scored with
 * P@1, R-precision and MAP@R. Exact brute force, O(n^2 d) time and O(n) extra memory.
 *
 * Ties are broken pessimistically: an item of another label at the same distance as a relevant one
 * ranks ahead of it, so collapsed embeddings cannot score well by accident.
 *
 * @param vectors n x dim embeddings, row-major
 * @param labels one label per row
 * @param metric 'l2' (Euclidean) or 'cosine' (1 - cosine similarity; a zero vector has similarity 0)
 * @example
 * const v = Float32Array.from([0, 0, 0, 1, 5, 5, 5, 6]);
 * retrievalMetrics(v, 2, [0, 0, 1, 1], 'l2'); // { precisionAt1: 1, rPrecision: 1, mapAtR: 1, rank1: 1, queries: 4, queriesSkipped: 0 }
 */
export function retrievalMetrics(
  vectors: Float32Array,
  dim: number,
  labels: ArrayLike<number>,
  metric: 'l2' | 'cosine',
): RetrievalMetrics {
  const n = labels.length;
  if (!(Number.isInteger(dim) && dim > 0)) throw new RangeError(`dim must be a positive integer, got ${dim}`);
  if (vectors.length !== n * dim) {
    throw new RangeError(`vectors has ${vectors.length} values, expected ${n} labels x ${dim} = ${n * dim}`);
  }
  for (let k = 0; k < vectors.length; k++) {
    if (!Number.isFinite(vectors[k])) throw new RangeError(`vectors[${k}] is not finite`);
  }

  const labelCounts = new Map<number, number>();
  for (let k = 0; k < n; k++) labelCounts.set(labels[k], (labelCounts.get(labels[k]) ?? 0) + 1);
  let maxRelevant = 0;
  for (const count of labelCounts.values()) maxRelevant = Math.max(maxRelevant, count - 1);

  // Cosine distance needs inverse norms; l2 ranks by squared distance (same order, no sqrt).
  const inverseNorms = new Float64Array(metric === 'cosine' ? n : 0);
  for (let k = 0; k < inverseNorms.length; k++) {
    let sum = 0;
    for (let c = k * dim, end = c + dim; c < end; c++) sum += vectors[c] * vectors[c];
    inverseNorms[k] = sum > 0 ? 1 / Math.sqrt(sum) : 0;
  }

  // Buffers reused by every query: no allocation per pair or per query.
  const distances = new Float64Array(n);
  const relevantDistances = new Float64Array(maxRelevant);
  const irrelevantAhead = new Int32Array(maxRelevant);

  let queries = 0;
  let skipped = 0;
  let sumP1 = 0;
  let sumRPrecision = 0;
  let sumMapAtR = 0;

  for (let q = 0; q < n; q++) {
    const label = labels[q];
    const relevant = (labelCounts.get(label) ?? 1) - 1;
    if (relevant === 0) {
      skipped++;
      continue;
    }

    const qOffset = q * dim;
    let r = 0;
    for (let other = 0; other < n; other++) {
      if (other === q) continue;
      const oOffset = other * dim;
      let distance: number;
      if (metric === 'l2') {
        let sum = 0;
        for (let c = 0; c < dim; c++) {
          const delta = vectors[qOffset + c] - vectors[oOffset + c];
          sum += delta * delta;
        }
        distance = sum;
      } else {
        let dot = 0;
        for (let c = 0; c < dim; c++) dot += vectors[qOffset + c] * vectors[oOffset + c];
        distance = 1 - dot * inverseNorms[q] * inverseNorms[other];
      }
      distances[other] = distance;
      if (labels[other] === label) relevantDistances[r++] = distance;
    }

    // Rank of the k-th nearest relevant item (0-based k) = k + 1 + (irrelevant items at distance <= it).
    const sortedRelevant = relevantDistances.subarray(0, relevant).sort();
    const farthestRelevant = sortedRelevant[relevant - 1];
    irrelevantAhead.fill(0, 0, relevant);
    for (let other = 0; other < n; other++) {
      if (other === q || labels[other] === label) continue;
      const distance = distances[other];
      if (distance > farthestRelevant) continue;
      // First relevant k with distance <= sortedRelevant[k]: this item ranks ahead of k and all after it.
      let lo = 0;
      let hi = relevant - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (sortedRelevant[mid] >= distance) hi = mid;
        else lo = mid + 1;
      }
      irrelevantAhead[lo]++;
    }

    let ahead = 0;
    let hitsInTopR = 0;
    let precisionSum = 0;
    for (let k = 0; k < relevant; k++) {
      ahead += irrelevantAhead[k];
      const rank = k + 1 + ahead;
      if (rank > relevant) break; // later relevant items rank even lower
      hitsInTopR++;
      precisionSum += (k + 1) / rank;
    }
    queries++;
    sumP1 += irrelevantAhead[0] === 0 ? 1 : 0;
    sumRPrecision += hitsInTopR / relevant;
    sumMapAtR += precisionSum / relevant;
  }

  if (queries === 0) throw new RangeError('retrievalMetrics: no label has two or more items, so there is nothing to retrieve');
  const precisionAt1 = sumP1 / queries;
  return {
    precisionAt1,
    rPrecision: sumRPrecision / queries,
    mapAtR: sumMapAtR / queries,
    rank1: precisionAt1,
    queries,
    queriesSkipped: skipped,
  };
}

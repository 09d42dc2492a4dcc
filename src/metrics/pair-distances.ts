/**
 * Euclidean distances of chosen pairs of embeddings, split into same-identity and different-identity
 * pairs, with the identities of each pair (to resample by identity). Pure: the caller picks the pairs
 * (e.g. `allPairs` in src/data/pairs.ts).
 */

export interface PairDistances {
  same: Float64Array;
  different: Float64Array;
  /** The identity (label) of each same pair, and the two identities of each different pair: for resampling by identity. */
  sameLabels: Int32Array;
  differentLabels: { a: Int32Array; b: Int32Array };
}

/**
 * The Euclidean distance of every pair (`pairs.a[k]`, `pairs.b[k]`) of rows of `vectors`, in the
 * order given; a pair is "same" when its two rows share a label.
 *
 * @param vectors n x dim embeddings, row-major
 * @param labels one label per row
 * @example
 * const { same, different } = pairDistances(vectors, 64, labels, allPairs(labels, 200_000, createRng(1)));
 */
export function pairDistances(vectors: Float32Array, dim: number, labels: ArrayLike<number>, pairs: { a: ArrayLike<number>; b: ArrayLike<number> }): PairDistances {
  if (pairs.a.length !== pairs.b.length) throw new RangeError(`pairs.a has ${pairs.a.length} rows, pairs.b ${pairs.b.length}`);
  const same: number[] = [];
  const different: number[] = [];
  const sameLabels: number[] = [];
  const differentA: number[] = [];
  const differentB: number[] = [];
  for (let k = 0; k < pairs.a.length; k++) {
    const i = pairs.a[k]!;
    const j = pairs.b[k]!;
    let sum = 0;
    for (let c = 0; c < dim; c++) {
      const delta = vectors[i * dim + c]! - vectors[j * dim + c]!;
      sum += delta * delta;
    }
    const d = Math.sqrt(sum);
    if (labels[i] === labels[j]) {
      same.push(d);
      sameLabels.push(labels[i]!);
    } else {
      different.push(d);
      differentA.push(labels[i]!);
      differentB.push(labels[j]!);
    }
  }
  return {
    same: Float64Array.from(same),
    different: Float64Array.from(different),
    sameLabels: Int32Array.from(sameLabels),
    differentLabels: { a: Int32Array.from(differentA), b: Int32Array.from(differentB) },
  };
}

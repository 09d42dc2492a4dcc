/** Synthetic vectors for the index benchmarks: stand-ins for embeddings, at sizes no dataset here reaches. */
import { createRng } from '../../src/data/rng.js';

export type Distribution = 'clustered' | 'uniform';

/**
 * `count` rows of `dim`: `clustered`, unit vectors around the given centres (like the embeddings of a
 * gallery of many identities); `uniform`, i.i.d. uniform coordinates (the hardest case for graph search).
 *
 * @example
 * syntheticVectors(1000, 64, 'clustered', rng, centres); // Float32Array of 64,000
 */
export function syntheticVectors(count: number, dim: number, distribution: Distribution, rng: ReturnType<typeof createRng>, centres?: Float32Array): Float32Array {
  const out = new Float32Array(count * dim);
  if (distribution === 'uniform') {
    for (let i = 0; i < out.length; i++) out[i] = rng.next();
    return out;
  }
  const c = centres as Float32Array;
  const clusters = c.length / dim;
  for (let i = 0; i < count; i++) {
    const k = rng.int(clusters);
    let norm = 0;
    for (let j = 0; j < dim; j++) {
      const v = c[k * dim + j] + 0.35 * rng.normal();
      out[i * dim + j] = v;
      norm += v * v;
    }
    const inv = 1 / Math.sqrt(norm);
    for (let j = 0; j < dim; j++) out[i * dim + j] *= inv;
  }
  return out;
}

/** Clustered unit vectors (smoke runs): `clusters` random centres, then rows around them. */
export function clusteredVectors(count: number, dim: number, seed: number, clusters = 100): Float32Array {
  const rng = createRng(seed);
  const centres = Float32Array.from({ length: clusters * dim }, () => rng.normal());
  return syntheticVectors(count, dim, 'clustered', rng, centres);
}

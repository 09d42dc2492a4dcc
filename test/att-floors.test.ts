/** The pixel / PCA floors script: its eigen-solver, PCA and scoring on synthetic data. */
import { describe, expect, it } from 'vitest';
import { fitPca, floors, projectPca, symmetricEigen } from '../scripts/research/att-floors.js';
import type { ImageSet } from '../src/data/gallery.js';
import { createRng } from '../src/data/rng.js';

describe('att-floors', () => {
  it('symmetricEigen finds eigenvalues (descending) and eigenvectors of a symmetric matrix', () => {
    // [[2, 1], [1, 2]]: eigenvalues 3 (along [1, 1]) and 1 (along [1, -1]).
    const { values, vectors } = symmetricEigen(Float64Array.from([2, 1, 1, 2]), 2);
    expect(values[0]).toBeCloseTo(3, 10);
    expect(values[1]).toBeCloseTo(1, 10);
    expect(Math.abs(vectors[0]!)).toBeCloseTo(Math.SQRT1_2, 10);
    expect(vectors[0]! * vectors[2]!).toBeGreaterThan(0); // first column is ±[1, 1]/√2
  });

  it('fitPca recovers the dominant direction of the data and projects onto it', () => {
    const rng = createRng(3);
    const n = 40;
    const dim = 5;
    const data = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) {
      const t = rng.normal() * 10;
      for (let d = 0; d < dim; d++) data[i * dim + d] = (d === 2 ? t : 0) + rng.normal() * 0.1 + 7;
    }
    const pca = fitPca(data, n, dim, 2);
    expect(Math.abs(pca.axes[2]!)).toBeCloseTo(1, 2);
    expect(pca.variances[0]).toBeGreaterThan(50 * pca.variances[1]!);
    const projected = projectPca(pca, data, n, 1, false);
    expect(Math.abs(projected[0]!)).toBeCloseTo(Math.abs(data[2]! - pca.mean[2]!), 0);
  });

  it('scores raw pixels and PCA: identities as separated clusters give EER 0 and rank-1 1', () => {
    const rng = createRng(5);
    const make = (ids: number, perId: number): ImageSet => {
      const dim = 16;
      const data = new Float32Array(ids * perId * dim);
      const labels = new Int32Array(ids * perId);
      for (let id = 0; id < ids; id++) {
        const centre = Array.from({ length: dim }, () => rng.normal());
        for (let k = 0; k < perId; k++) {
          const i = id * perId + k;
          labels[i] = id;
          for (let d = 0; d < dim; d++) data[i * dim + d] = centre[d]! + rng.normal() * 0.01;
        }
      }
      return { data, count: ids * perId, shape: [4, 4, 1], labels, identities: Array.from({ length: ids }, (_, i) => `s${i}`), files: [], skipped: [] };
    };
    const rows = floors(make(6, 5), make(4, 5), [4]);
    expect(rows.map((r) => r.method)).toEqual(['raw pixels, L2', 'raw pixels, L2-normalised', 'PCA 4, L2', 'PCA 4, L2-normalised', 'PCA 4 whitened, L2-normalised']);
    expect(rows[0]).toMatchObject({ eer: 0, rank1: 1 });
  });
});

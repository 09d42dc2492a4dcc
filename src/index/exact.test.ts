import { describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.js';
import { distanceFromRaw, normalizeRowsInPlace } from './distance.js';
import { exactSearch, recallAtK } from './exact.js';

function naive(table: Float32Array, dim: number, q: number[], k: number): number[] {
  const n = table.length / dim;
  const d = Array.from({ length: n }, (_, row) => {
    let s = 0;
    for (let j = 0; j < dim; j++) s += (q[j] - table[row * dim + j]) ** 2;
    return { row, s };
  });
  return d.sort((a, b) => a.s - b.s || a.row - b.row).slice(0, k).map((x) => x.row);
}

describe('exactSearch', () => {
  it('matches a naive sort on random data', () => {
    const rng = createRng(3);
    const dim = 7;
    const table = Float32Array.from({ length: 300 * dim }, () => rng.normal());
    for (let t = 0; t < 20; t++) {
      const q = Array.from({ length: dim }, () => rng.normal());
      const hits = exactSearch(table, dim, q, 10);
      expect(hits.map((h) => h.row)).toEqual(naive(table, dim, q, 10));
      for (let i = 1; i < hits.length; i++) expect(hits[i].distance).toBeGreaterThanOrEqual(hits[i - 1].distance);
    }
  });

  it('reports Euclidean distances, or 1 - cos for the cosine metric', () => {
    const table = new Float32Array([0, 0, 3, 4]);
    expect(exactSearch(table, 2, [0, 0], 2)).toEqual([
      { row: 0, distance: 0 },
      { row: 1, distance: 5 },
    ]);
    const unit = normalizeRowsInPlace(new Float32Array([1, 0, 0, 1]), 2);
    const [, far] = exactSearch(unit, 2, [1, 0], 2, { metric: 'cosine' });
    expect(far.distance).toBeCloseTo(1, 6); // orthogonal: cos 0
  });

  it('skips rows that are not live and handles k larger than the table', () => {
    const table = new Float32Array([0, 1, 2, 3]);
    expect(exactSearch(table, 1, [0], 10, { isLive: (row) => row !== 0 }).map((h) => h.row)).toEqual([1, 2, 3]);
    expect(exactSearch(table, 1, [0], 0)).toEqual([]);
    expect(() => exactSearch(table, 1, [0, 1], 1)).toThrow(/dimensions/);
  });
});

describe('recallAtK', () => {
  it('averages the fraction of true neighbours found per query', () => {
    expect(recallAtK([[1, 2, 3], [4, 5, 6]], [[1, 2, 3], [4, 9, 8]], 3)).toBeCloseTo((1 + 1 / 3) / 2);
    expect(recallAtK([], [], 10)).toBe(1);
  });
});

describe('distance conversion', () => {
  it('turns squared l2 into the metric of the model card', () => {
    expect(distanceFromRaw('l2', 0.25)).toBe(0.5);
    expect(distanceFromRaw('l2', -1e-9)).toBe(0);
    expect(distanceFromRaw('cosine', 0.5)).toBe(0.25);
  });
});

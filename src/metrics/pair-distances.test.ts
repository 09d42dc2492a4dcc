import { describe, expect, it } from 'vitest';
import { pairDistances } from './pair-distances.js';

describe('pairDistances', () => {
  // Four 2-d points: two of identity 7 at (0,0) and (3,4), two of identity 9 at (0,1) and (6,8).
  const vectors = Float32Array.from([0, 0, 3, 4, 0, 1, 6, 8]);
  const labels = Int32Array.from([7, 7, 9, 9]);

  it('puts each pair on its side by label, with its Euclidean distance and identities, in the order given', () => {
    const d = pairDistances(vectors, 2, labels, { a: [0, 2, 0, 1, 3], b: [1, 3, 2, 3, 0] });
    expect(Array.from(d.same)).toEqual([5, Math.hypot(6, 7)]);
    expect(Array.from(d.sameLabels)).toEqual([7, 9]);
    expect(Array.from(d.different)).toEqual([1, 5, 10]);
    expect(Array.from(d.differentLabels.a)).toEqual([7, 7, 9]);
    expect(Array.from(d.differentLabels.b)).toEqual([9, 9, 7]);
  });

  it('gives empty sides for no pairs and refuses pair lists of unequal length', () => {
    const none = pairDistances(vectors, 2, labels, { a: [], b: [] });
    expect(none.same).toHaveLength(0);
    expect(none.different).toHaveLength(0);
    expect(() => pairDistances(vectors, 2, labels, { a: [0, 1], b: [2] })).toThrow(/2 rows.*1/);
  });
});

import { describe, expect, it } from 'vitest';
import type { PairDistances } from '../metrics/index.js';
import { errorsByIdentity } from './identity-errors.js';

// Three identities: x (label 0) has one far same pair, y (1) none, z (2) two; x and z look alike.
const distances: PairDistances = {
  same: Float64Array.of(0.2, 0.9, 0.1, 0.3, 0.5),
  sameLabels: Int32Array.of(0, 0, 2, 2, 1),
  different: Float64Array.of(0.4, 0.45, 1.2, 0.8, 0.5, 1.1),
  differentLabels: { a: Int32Array.of(0, 2, 0, 1, 1, 2), b: Int32Array.of(2, 0, 1, 2, 0, 1) },
};

describe('errorsByIdentity', () => {
  it('counts false rejects and false accepts per identity at the threshold (distance <= threshold accepted)', () => {
    const rows = errorsByIdentity(distances, ['x', 'y', 'z'], 0.5);
    expect(rows).toEqual([
      { identity: 'x', samePairs: 2, falseRejects: 1, differentPairs: 4, falseAccepts: 3, mostConfusedWith: { identity: 'z', falseAccepts: 2 } },
      { identity: 'y', samePairs: 1, falseRejects: 0, differentPairs: 4, falseAccepts: 1, mostConfusedWith: { identity: 'x', falseAccepts: 1 } },
      { identity: 'z', samePairs: 2, falseRejects: 0, differentPairs: 4, falseAccepts: 2, mostConfusedWith: { identity: 'x', falseAccepts: 2 } },
    ]);
  });

  it('reports no confusion when nothing different is accepted, and every same pair rejected at a low threshold', () => {
    const rows = errorsByIdentity(distances, ['x', 'y', 'z'], 0.05);
    expect(rows.map((r) => [r.falseRejects, r.falseAccepts, r.mostConfusedWith])).toEqual([[2, 0, null], [1, 0, null], [2, 0, null]]);
  });

  it('totals agree with the pair counts: each different pair counts for both its identities', () => {
    const rows = errorsByIdentity(distances, ['x', 'y', 'z'], 0.6);
    expect(rows.reduce((s, r) => s + r.samePairs, 0)).toBe(distances.same.length);
    expect(rows.reduce((s, r) => s + r.differentPairs, 0)).toBe(2 * distances.different.length);
    const accepted = Array.from(distances.different).filter((d) => d <= 0.6).length;
    expect(rows.reduce((s, r) => s + r.falseAccepts, 0)).toBe(2 * accepted);
  });
});

import { describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.js';
import { equalErrorRate, rocCurve } from '../metrics/index.js';
import { bootstrapEer, sortPairs, weightedEer, type IdentityPairs } from './bootstrap.js';
import { scoreVerification } from './verify.js';

/** Pairs from (identityA, identityB, distance) triples. */
function pairsOf(rows: [number, number, number][]): IdentityPairs {
  return {
    identityA: Int32Array.from(rows.map((r) => r[0])),
    identityB: Int32Array.from(rows.map((r) => r[1])),
    distances: Float64Array.from(rows.map((r) => r[2])),
  };
}

/** Unweighted EER of the same rows, the way eval verify computes it. */
function plainEer(rows: [number, number, number][]): number {
  return equalErrorRate(rocCurve(rows.filter((r) => r[0] === r[1]).map((r) => r[2]), rows.filter((r) => r[0] !== r[1]).map((r) => r[2]))).eer;
}

/** Three people; person 2's own pair is far apart, so it overlaps the different pairs. */
const rows: [number, number, number][] = [
  [0, 0, 0.1], [0, 0, 0.2], [1, 1, 0.15], [1, 1, 0.25], [2, 2, 0.9],
  [0, 1, 0.8], [0, 1, 0.7], [0, 2, 0.5], [1, 2, 1.1], [1, 2, 0.6], [0, 2, 1.2],
];

describe('weightedEer', () => {
  it('with every person counted once is the plain EER', () => {
    const p = pairsOf(rows);
    expect(weightedEer(sortPairs(p), Float64Array.of(1, 1, 1))).toBeCloseTo(plainEer(rows), 12);
  });

  it('counting a person twice equals listing their same pairs twice and their different pairs once per copy', () => {
    const p = pairsOf(rows);
    const duplicated = rows.flatMap((r): [number, number, number][] => (r[0] === 2 || r[1] === 2 ? [r, r] : [r]));
    expect(weightedEer(sortPairs(p), Float64Array.of(1, 1, 2))).toBeCloseTo(plainEer(duplicated), 12);
  });

  it('is NaN for a panel of one person (no different pairs) and drops people counted 0 times', () => {
    const p = pairsOf(rows);
    expect(weightedEer(sortPairs(p), Float64Array.of(3, 0, 0))).toBeNaN();
    const without2 = rows.filter((r) => r[0] !== 2 && r[1] !== 2);
    expect(weightedEer(sortPairs(p), Float64Array.of(1, 1, 0))).toBeCloseTo(plainEer(without2), 12);
  });
});

describe('bootstrapEer', () => {
  it('brackets the measured EER, is reproducible by seed, and is [0, 0] when every panel separates', () => {
    const p = pairsOf(rows);
    const interval = bootstrapEer(p, { resamples: 500, rng: createRng(3) });
    expect(interval.low).toBeLessThanOrEqual(plainEer(rows));
    expect(interval.high).toBeGreaterThanOrEqual(plainEer(rows));
    expect(interval.low).toBe(0); // panels without person 2 separate perfectly
    expect(interval.level).toBe(0.95);
    expect(interval.resamples).toBeGreaterThan(400); // only one-person panels are skipped
    expect(bootstrapEer(p, { resamples: 500, rng: createRng(3) })).toEqual(interval);

    const separable = pairsOf(rows.filter((r) => r[0] !== 2 && r[1] !== 2));
    const none = bootstrapEer(separable, { resamples: 200, rng: createRng(1) });
    expect([none.low, none.high]).toEqual([0, 0]);
  });

  it('rejects a bad resample count or level', () => {
    const p = pairsOf(rows);
    expect(() => bootstrapEer(p, { resamples: 0, rng: createRng(1) })).toThrow(RangeError);
    expect(() => bootstrapEer(p, { resamples: 10, rng: createRng(1), level: 1 })).toThrow(RangeError);
  });

  it('is reported by scoreVerification only when asked for, around its EER', () => {
    // 6 people x 4 images in 2-d; person 5's images scatter, so the EER is above 0.
    const labels = Int32Array.from({ length: 24 }, (_, i) => Math.floor(i / 4));
    const rng = createRng(7);
    const vectors = Float32Array.from({ length: 48 }, (_, k) => {
      const person = Math.floor(k / 8);
      const centre = k % 2 === 0 ? Math.cos(person) : Math.sin(person);
      return centre + (person === 5 ? 1.5 : 0.1) * (rng.next() - 0.5);
    });
    expect(scoreVerification(vectors, 2, labels).scores.eerInterval).toBeUndefined();
    const { scores } = scoreVerification(vectors, 2, labels, { bootstrap: 300 });
    expect(scores.eerInterval!.low).toBeLessThanOrEqual(scores.eer);
    expect(scores.eerInterval!.high).toBeGreaterThanOrEqual(scores.eer);
    expect(scores.eerInterval!.high).toBeGreaterThan(scores.eerInterval!.low);
  });
});

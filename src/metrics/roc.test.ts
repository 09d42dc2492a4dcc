import { describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.js';
import { auc, equalErrorRate, ratesAtThreshold, rocCurve, thresholdAtFar } from './roc.js';

/** Rounded values so ties are frequent. */
function randomDistances(random: () => number, count: number, shift: number): number[] {
  return Array.from({ length: count }, () => Math.round((random() + shift) * 20) / 20);
}

/** Brute-force rates at a threshold, straight from the definition. */
function bruteRates(same: number[], diff: number[], threshold: number): { far: number; tar: number } {
  return {
    far: diff.filter((d) => d <= threshold).length / diff.length,
    tar: same.filter((d) => d <= threshold).length / same.length,
  };
}

describe('rocCurve', () => {
  it('has one point per distinct distance, from (0,0) to (1,1)', () => {
    const roc = rocCurve([0.3, 0.1], [0.9, 0.2]);
    expect(Array.from(roc.thresholds.slice(1))).toEqual([0.1, 0.2, 0.3, 0.9]);
    expect(roc.thresholds[0]).toBeLessThan(0.1);
    expect(Array.from(roc.far)).toEqual([0, 0, 0.5, 0.5, 1]);
    expect(Array.from(roc.tar)).toEqual([0, 0.5, 0.5, 1, 1]);
  });

  it('moves tied pairs together in one diagonal step', () => {
    const roc = rocCurve([0.5, 0.5], [0.5, 1]);
    expect(Array.from(roc.thresholds.slice(1))).toEqual([0.5, 1]);
    expect(Array.from(roc.far)).toEqual([0, 0.5, 1]);
    expect(Array.from(roc.tar)).toEqual([0, 1, 1]);
  });

  it('starts at a finite threshold that accepts nothing, even at distance 0', () => {
    const roc = rocCurve([0, 0.2], [0, 1]);
    expect(Number.isFinite(roc.thresholds[0])).toBe(true);
    expect(roc.thresholds[0]).toBeLessThan(0);
    expect(bruteRates([0, 0.2], [0, 1], roc.thresholds[0])).toEqual({ far: 0, tar: 0 });
  });

  it('matches brute-force rates at every threshold on random tied data', () => {
    const random = createRng(1).next;
    const same = randomDistances(random, 200, 0);
    const diff = randomDistances(random, 300, 0.4);
    const roc = rocCurve(same, diff);
    for (let k = 0; k < roc.thresholds.length; k++) {
      if (k > 0) expect(roc.thresholds[k]).toBeGreaterThan(roc.thresholds[k - 1]);
      expect(bruteRates(same, diff, roc.thresholds[k])).toEqual({ far: roc.far[k], tar: roc.tar[k] });
    }
    expect(roc.far.at(-1)).toBe(1);
    expect(roc.tar.at(-1)).toBe(1);
  });

  it('rejects empty inputs and NaN', () => {
    expect(() => rocCurve([], [1])).toThrow(RangeError);
    expect(() => rocCurve([1], [])).toThrow(RangeError);
    expect(() => rocCurve([1, Number.NaN], [2])).toThrow(/NaN/);
  });
});

describe('auc', () => {
  it('is 1 for perfect separation, 0 for perfectly reversed, 0.5 for identical distributions', () => {
    expect(auc(rocCurve([0.1, 0.2, 0.3], [0.5, 0.6]))).toBe(1);
    expect(auc(rocCurve([0.5, 0.6], [0.1, 0.2, 0.3]))).toBe(0);
    expect(auc(rocCurve([1, 2, 3, 4], [1, 2, 3, 4]))).toBeCloseTo(0.5, 12);
  });

  it('counts a tie as half a win', () => {
    // Pairs (same, diff): (0.5, 0.5) x2 ties = 1, (0.5, 1) x2 wins = 2 -> 3 / 4.
    expect(auc(rocCurve([0.5, 0.5], [0.5, 1]))).toBeCloseTo(0.75, 12);
  });

  it('equals the Mann-Whitney statistic on random tied data', () => {
    const random = createRng(2).next;
    const same = randomDistances(random, 150, 0);
    const diff = randomDistances(random, 170, 0.3);
    let wins = 0;
    for (const s of same) for (const d of diff) wins += s < d ? 1 : s === d ? 0.5 : 0;
    expect(auc(rocCurve(same, diff))).toBeCloseTo(wins / (same.length * diff.length), 12);
  });
});

describe('equalErrorRate', () => {
  it('is 0 at the largest same distance for perfect separation', () => {
    expect(equalErrorRate(rocCurve([0.1, 0.2], [0.5, 0.6]))).toEqual({ eer: 0, threshold: 0.2 });
  });

  it('is 0.5 for identical distributions', () => {
    expect(equalErrorRate(rocCurve([1, 2, 3, 4], [1, 2, 3, 4])).eer).toBeCloseTo(0.5, 12);
  });

  it('interpolates between bracketing points', () => {
    // Points: t=1 (FAR 0, TAR 0.5, FAR-FRR = -0.5); t=2 (FAR 0.5, TAR 1, FAR-FRR = +0.5).
    // Halfway: FAR = FRR = 0.25 at t = 1.5.
    const diagonal = equalErrorRate(rocCurve([1, 2], [2, 3]));
    expect(diagonal.eer).toBeCloseTo(0.25, 12);
    expect(diagonal.threshold).toBeCloseTo(1.5, 12);
    // Points: t=2 (FAR 1/3, TAR 1/2, gap -1/6); t=3 (FAR 1/3, TAR 1, gap +1/3): a third of the way, t = 2 + 1/3.
    const vertical = equalErrorRate(rocCurve([1, 3], [2, 4, 5]));
    expect(vertical.eer).toBeCloseTo(1 / 3, 12);
    expect(vertical.threshold).toBeCloseTo(2 + 1 / 3, 12);
  });
});

describe('thresholdAtFar', () => {
  it('picks the largest threshold whose FAR is within the target', () => {
    const roc = rocCurve([0.1, 0.3], [0.2, 0.9]);
    expect(thresholdAtFar(roc, 0.5)).toEqual({ threshold: 0.3, far: 0.5, tar: 1 });
    expect(thresholdAtFar(roc, 0.49)).toEqual({ threshold: 0.1, far: 0, tar: 0.5 });
    expect(thresholdAtFar(roc, 1)).toEqual({ threshold: 0.9, far: 1, tar: 1 });
  });

  it('returns the measured FAR (0) for a target below 1/negatives', () => {
    const roc = rocCurve([0.1, 0.2, 0.4], [0.3, 0.5]);
    expect(thresholdAtFar(roc, 1e-3)).toEqual({ threshold: 0.2, far: 0, tar: 2 / 3 });
  });

  it('never exceeds the target and is the largest such point, on random data', () => {
    const random = createRng(3).next;
    const same = randomDistances(random, 300, 0);
    const diff = randomDistances(random, 400, 0.25);
    const roc = rocCurve(same, diff);
    for (const target of [0, 1e-3, 0.0025, 0.01, 0.05, 0.1, 0.33, 0.5, 0.999, 1]) {
      const point = thresholdAtFar(roc, target);
      const measured = bruteRates(same, diff, point.threshold);
      expect(measured).toEqual({ far: point.far, tar: point.tar });
      expect(point.far).toBeLessThanOrEqual(target);
      // Any larger ROC threshold would exceed the target.
      const next = roc.thresholds.findIndex((t) => t > point.threshold);
      if (next >= 0) expect(roc.far[next]).toBeGreaterThan(target);
    }
  });

  it('rejects targets outside [0, 1]', () => {
    const roc = rocCurve([1], [2]);
    expect(() => thresholdAtFar(roc, -0.1)).toThrow(RangeError);
    expect(() => thresholdAtFar(roc, Number.NaN)).toThrow(RangeError);
  });
});

describe('ratesAtThreshold', () => {
  it('reads the step function at any threshold', () => {
    const roc = rocCurve([0.1, 0.3], [0.2, 0.9]);
    expect(ratesAtThreshold(roc, 0.25)).toEqual({ threshold: 0.25, far: 0.5, tar: 0.5 });
    expect(ratesAtThreshold(roc, 0.3)).toEqual({ threshold: 0.3, far: 0.5, tar: 1 });
    expect(ratesAtThreshold(roc, -5)).toEqual({ threshold: -5, far: 0, tar: 0 });
    expect(ratesAtThreshold(roc, 7)).toEqual({ threshold: 7, far: 1, tar: 1 });
  });
});

/** The definitions of Musgrave et al. 2020, written the slow way: sort everything per query. */

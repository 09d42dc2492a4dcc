import { describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.js';
import { calibrate, describeDefaultThreshold, kFoldThreshold, quantile } from './calibrate.js';

// Hand-worked set: 4 same pairs, 5 different pairs, one overlap (same 0.4 > different 0.35).
// ROC points (threshold: FAR, TAR): 0.1: 0, 1/4 | 0.2: 0, 1/2 | 0.3: 0, 3/4 | 0.35: 1/5, 3/4 | 0.4: 1/5, 1 | ... | 0.8: 1, 1
const SAME = [0.4, 0.1, 0.3, 0.2];
const DIFF = [0.6, 0.35, 0.8, 0.5, 0.7];

describe('quantile', () => {
  it('interpolates linearly between order statistics', () => {
    const sorted = [1, 2, 3, 4];
    expect(quantile(sorted, 0)).toBe(1);
    expect(quantile(sorted, 1)).toBe(4);
    expect(quantile(sorted, 0.5)).toBe(2.5);
    expect(quantile(sorted, 0.25)).toBeCloseTo(1.75, 12);
    expect(quantile([7], 0.95)).toBe(7);
    expect(() => quantile([], 0.5)).toThrow(RangeError);
  });
});

describe('calibrate', () => {
  it('reports AUC, EER and FAR operating points worked out by hand', () => {
    const calibration = calibrate(SAME, DIFF, { targetFars: [0.2, 0.01] });
    // 19 of the 20 (same, different) pairs are ordered correctly.
    expect(calibration.auc).toBeCloseTo(0.95, 12);
    // FAR - FRR: -0.05 at 0.35, +0.2 at 0.4 -> a fifth of the way: EER 0.2 at 0.36, where FAR 1/5, TAR 3/4 are measured.
    expect(calibration.eer.rate).toBeCloseTo(0.2, 12);
    expect(calibration.eer.threshold).toBeCloseTo(0.36, 12);
    expect(calibration.eer.far).toBe(0.2);
    expect(calibration.eer.tar).toBe(0.75);
    expect(calibration.atFar).toEqual([
      { targetFar: 0.2, threshold: 0.4, far: 0.2, tar: 1, resolvable: true },
      { targetFar: 0.01, threshold: 0.3, far: 0, tar: 0.75, resolvable: false },
    ]);
    expect(calibration.pairs).toEqual({ same: 4, different: 5 });
  });

  it('summarises both distance distributions', () => {
    const { same, different } = calibrate(SAME, DIFF).distanceStats;
    expect(same.mean).toBeCloseTo(0.25, 12);
    expect(same.p50).toBeCloseTo(0.25, 12);
    expect(same.p95).toBeCloseTo(0.385, 12); // position 2.85: 0.3 + 0.85 * 0.1
    expect(different.mean).toBeCloseTo(0.59, 12);
    expect(different.p05).toBeCloseTo(0.38, 12); // position 0.2: 0.35 + 0.2 * 0.15
    expect(different.p50).toBeCloseTo(0.6, 12);
  });

  it('defaults to the EER threshold when the default FAR is not resolvable, and says so', () => {
    const calibration = calibrate(SAME, DIFF); // FAR 1e-3 needs 1000 different pairs; there are 5
    expect(calibration.default.threshold).toBeCloseTo(0.36, 12);
    expect(calibration.default.source).toMatch(/^eer/);
    expect(calibration.default.source).toContain('got 5');
    expect(calibration.atFar.map((p) => p.targetFar)).toEqual([1e-2, 1e-3]);
    expect(calibration.atFar.every((p) => !p.resolvable)).toBe(true);
  });

  it('uses the threshold at the default FAR when it is resolvable', () => {
    const calibration = calibrate(SAME, DIFF, { defaultFar: 0.2 });
    expect(calibration.default).toEqual({ threshold: 0.4, source: 'far=0.2', basis: 'far', far: 0.2 });
  });

  it('treats exactly 1/negatives as resolvable', () => {
    const rng = createRng(11);
    const same = Array.from({ length: 200 }, () => rng.normal());
    const diff = Array.from({ length: 1000 }, () => 3 + rng.normal());
    const calibration = calibrate(same, diff);
    expect(calibration.atFar.map((p) => p.resolvable)).toEqual([true, true]);
    expect(calibration.default.source).toBe('far=0.001');
    expect(calibration.default.threshold).toBe(calibration.atFar[1].threshold);
    expect(calibration.atFar[1].far).toBeLessThanOrEqual(1e-3);
    expect(calibration.auc).toBeGreaterThan(0.95);
  });

  it('serialises to JSON without losing numbers', () => {
    const calibration = calibrate([0], [0, 1]); // the smallest distance is a different pair
    expect(JSON.parse(JSON.stringify(calibration))).toEqual(calibration);
  });
});

describe('describeDefaultThreshold', () => {
  it('says the threshold was picked at the requested FAR, with the rates measured there', () => {
    const calibration = calibrate(SAME, DIFF, { targetFars: [0.2], defaultFar: 0.2 });
    expect(describeDefaultThreshold(calibration)).toBe(
      'threshold 0.4000 at the requested FAR 0.2: on held-out identities it accepts 20.0% of different pairs (of 5) and 100.0% of same pairs (of 4)',
    );
  });

  it('says the threshold fell back to the equal error rate, why, and what to change', () => {
    const calibration = calibrate(SAME, DIFF); // FAR 1e-3 needs 1000 different pairs; there are 5
    expect(describeDefaultThreshold(calibration)).toBe(
      'threshold 0.3600 at the equal error rate (EER 20.0%; there it accepts 20.0% of different pairs and 75.0% of same pairs): ' +
        'too few different pairs (5) to calibrate FAR 0.001 (needs 1000); add identities, or hold more out with --val-fraction, or ask for FAR 0.2 or higher with --target-far',
    );
    const rng = createRng(3);
    const many = calibrate(
      Array.from({ length: 100 }, () => rng.normal()),
      Array.from({ length: 486 }, () => 2 + rng.normal()),
    );
    expect(describeDefaultThreshold(many)).toMatch(/: too few different pairs \(486\) to calibrate FAR 0\.001 \(needs 1000\); .* ask for FAR 0\.005 or higher with --target-far$/);
  });
});

describe('kFoldThreshold', () => {
  it('chooses on k-1 folds and measures on the held-out one (hand-worked, k=2, round-robin)', () => {
    // Fold 0: same {0.1, 0.3}, diff {0.5, 0.25}; fold 1: same {0.2, 0.4}, diff {0.6, 0.9}.
    // Held-out 0: threshold at FAR 0 on fold 1 = 0.4 -> fold 0 accepts both same, and 0.25 of diff: TAR 1, FAR 1/2.
    // Held-out 1: threshold at FAR 0 on fold 0 = 0.1 (0.25 is a diff pair) -> fold 1 accepts nothing: TAR 0, FAR 0.
    const result = kFoldThreshold([0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.25, 0.9], 2, 0);
    expect(result.folds).toEqual([
      { threshold: 0.4, trainFar: 0, trainTar: 1, far: 0.5, tar: 1 },
      { threshold: 0.1, trainFar: 0, trainTar: 0.5, far: 0, tar: 0 },
    ]);
    expect(result.tar.mean).toBeCloseTo(0.5, 12);
    expect(result.tar.std).toBeCloseTo(Math.SQRT1_2, 12);
    expect(result.far.mean).toBeCloseTo(0.25, 12);
    expect(result.far.std).toBeCloseTo(Math.sqrt(0.125), 12);
    expect(result.threshold.mean).toBeCloseTo(0.25, 12);
  });

  it('gives FAR 0 on every fold for separable pairs, with thresholds at training same distances', () => {
    const same = Array.from({ length: 50 }, (_, i) => i / 100);
    const diff = Array.from({ length: 80 }, (_, i) => 1 + i / 100);
    const result = kFoldThreshold(same, diff, 10, 1e-3); // round-robin: fold f holds same i = f (mod 10)
    expect(result.folds).toHaveLength(10);
    expect(result.far).toEqual({ mean: 0, std: 0 });
    // The threshold is the largest training same distance: 0.49, except when fold 9 (holding 0.49) is
    // held out: then 0.48, and the held-out 0.49 is rejected (TAR 4/5 on that fold).
    expect(result.folds.map((f) => f.threshold)).toEqual([...Array(9).fill(0.49), 0.48]);
    expect(result.folds.map((f) => f.tar)).toEqual([...Array(9).fill(1), 0.8]);
    expect(result.folds.every((f) => f.trainTar === 1 && f.trainFar === 0)).toBe(true);
    expect(result.tar.mean).toBeCloseTo(1 - 0.2 / 10, 12);
  });

  it('keeps training FAR within target and held-out FAR near it on large overlapping data', () => {
    const rng = createRng(5);
    const same = Array.from({ length: 4000 }, () => rng.normal());
    const diff = Array.from({ length: 20000 }, () => 2 + rng.normal());
    const result = kFoldThreshold(same, diff, 5, 0.05, createRng(6));
    for (const fold of result.folds) expect(fold.trainFar).toBeLessThanOrEqual(0.05);
    expect(result.far.mean).toBeGreaterThan(0.04);
    expect(result.far.mean).toBeLessThan(0.06);
    // Two unit normals 2 apart: TAR at FAR 5% = Phi(2 - 1.645) ~ 0.64.
    expect(result.tar.mean).toBeGreaterThan(0.58);
    expect(result.tar.mean).toBeLessThan(0.7);
    expect(result.tar.std).toBeGreaterThan(0);
  });

  it('is reproducible for a seed and shuffles differently for another', () => {
    const rng = createRng(9);
    const same = Array.from({ length: 60 }, () => rng.normal());
    const diff = Array.from({ length: 60 }, () => 1 + rng.normal());
    const a = kFoldThreshold(same, diff, 3, 0.1, createRng(1));
    const b = kFoldThreshold(same, diff, 3, 0.1, createRng(1));
    const c = kFoldThreshold(same, diff, 3, 0.1, createRng(2));
    expect(a).toEqual(b);
    expect(c.folds).not.toEqual(a.folds);
  });

  it('rejects impossible fold counts', () => {
    expect(() => kFoldThreshold([1, 2], [3, 4, 5], 3, 0.1)).toThrow(/at least 3/);
    expect(() => kFoldThreshold([1, 2], [3, 4], 1, 0.1)).toThrow(RangeError);
  });
});

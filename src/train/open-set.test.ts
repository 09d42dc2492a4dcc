import { describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.js';
import { calibrateOpenSet, describeOpenSet, MIN_STRANGER_IDENTITIES, openSetRates, openSetTrials, openSetWarning } from './open-set.js';

// One-dimensional embeddings worked by hand. A: 0, 0.1 | B: 1.0, 1.2 | C: 3.0, 3.5, 2.9.
// Enrolled (first half, rounded up): A 0; B 1.0; C 3.0, 3.5. Known probes: A 0.1 (0.1 to A), B 1.2 (0.2 to B), C 2.9 (0.1 to C).
// Strangers, each image against the others' enrolled images: A 0 → 1.0, A 0.1 → 0.9, B 1.0 → 1.0, B 1.2 → 1.2,
// C 3.0 → 2.0, C 3.5 → 2.5, C 2.9 → 1.9; ascending 0.9, 1.0, 1.0, 1.2, 1.9, 2.0, 2.5.
const VECTORS = Float32Array.from([0, 0.1, 1.0, 1.2, 3.0, 3.5, 2.9]);
const LABELS = Int32Array.from([0, 0, 1, 1, 2, 2, 2]);

describe('openSetTrials', () => {
  it('enrols half of each identity, probes with the rest, and plays every image as a stranger against the others', () => {
    const trials = openSetTrials(VECTORS, 1, LABELS);
    expect(Array.from(trials.strangers)).toEqual([0.9, 1, 1, 1.2, 1.9, 2, 2.5].map((x) => expect.closeTo(x, 6)));
    expect(Array.from(trials.known.distance)).toEqual([0.1, 0.2, 0.1].map((x) => expect.closeTo(x, 6)));
    expect(Array.from(trials.known.correct)).toEqual([1, 1, 1]);
    expect(trials.identities).toBe(3);
  });

  it('counts a known probe nearest to another identity as not identified, however close', () => {
    // A: 0 (enrolled), 0.6 (probe; nearest enrolled is B's 0.5). B: 0.5 (enrolled), 5 (probe, 4.5 from B).
    const trials = openSetTrials(Float32Array.from([0, 0.6, 0.5, 5]), 1, Int32Array.from([0, 0, 1, 1]));
    expect(Array.from(trials.known.correct)).toEqual([0, 1]);
    expect(openSetRates(trials, 10).tir).toBe(0.5);
    expect(openSetRates(trials, 1).tir).toBe(0);
  });

  it('rejects vectors that do not match the labels', () => {
    expect(() => openSetTrials(new Float32Array(5), 2, Int32Array.from([0, 1, 2]))).toThrow(RangeError);
  });
});

describe('calibrateOpenSet', () => {
  const trials = openSetTrials(VECTORS, 1, LABELS);

  it('takes the largest stranger distance that keeps FPIR at or under the target', () => {
    // 30% of 7 allows 2 strangers, but 1.0 appears twice: accepting it accepts 3, so 0.9 (1 of 7).
    const point = calibrateOpenSet(trials, 0.3);
    expect(point.threshold).toBeCloseTo(0.9, 6);
    expect(point.fpir).toBeCloseTo(1 / 7, 12);
    expect(point.tir).toBe(1);
    // 50% allows 3: the tie at 1.0 fits.
    const looser = calibrateOpenSet(trials, 0.5);
    expect(looser.threshold).toBeCloseTo(1, 6);
    expect(looser.fpir).toBeCloseTo(3 / 7, 12);
  });

  it('stays just below the nearest stranger when the target allows none, and says the data are too few', () => {
    const point = calibrateOpenSet(trials, 0.01);
    expect(point.threshold).toBeLessThan(0.9);
    expect(point.threshold).toBeGreaterThan(0.8999);
    expect(point.fpir).toBe(0);
    expect(point).toMatchObject({ targetFpir: 0.01, strangers: 7, strangerIdentities: 3, galleryIdentities: 2, knownProbes: 3 });
    expect(point.warning).toMatch(/7 stranger images \(FPIR 1% needs at least 100/);
    expect(point.warning).toMatch(/3 stranger identities/);
  });

  it('never exceeds the target on the calibration strangers, and finds the known people of well-separated identities', () => {
    const rng = createRng(3);
    const identities = 12;
    const perIdentity = 10;
    const dim = 8;
    const vectors = new Float32Array(identities * perIdentity * dim);
    const labels = new Int32Array(identities * perIdentity);
    for (let id = 0; id < identities; id++) {
      const centre = Array.from({ length: dim }, () => rng.next() * 4);
      for (let k = 0; k < perIdentity; k++) {
        const i = id * perIdentity + k;
        labels[i] = id;
        for (let j = 0; j < dim; j++) vectors[i * dim + j] = centre[j]! + (rng.next() - 0.5) * 0.3;
      }
    }
    const many = openSetTrials(vectors, dim, labels);
    for (const target of [0.01, 0.05, 0.2]) {
      const point = calibrateOpenSet(many, target);
      expect(point.fpir).toBeLessThanOrEqual(target);
      expect(openSetRates(many, point.threshold)).toEqual({ fpir: point.fpir, tir: point.tir });
    }
    const point = calibrateOpenSet(many, 0.01);
    expect(point.tir).toBe(1);
    expect(point.strangers).toBe(120);
    expect(point.warning).toBeUndefined();
  });

  it('rejects a target outside (0, 1) and a single identity', () => {
    expect(() => calibrateOpenSet(trials, 0)).toThrow(RangeError);
    expect(() => calibrateOpenSet(openSetTrials(Float32Array.from([0, 1]), 1, Int32Array.from([0, 0])), 0.01)).toThrow(/two identities/);
  });
});

describe('openSetWarning', () => {
  const enough = { targetFpir: 0.01, strangers: 100, strangerIdentities: MIN_STRANGER_IDENTITIES, knownProbes: 50 };

  it('is silent when FPIR can be resolved at the target over enough people', () => {
    expect(openSetWarning(enough)).toBeUndefined();
  });

  it('names each shortfall', () => {
    expect(openSetWarning({ ...enough, strangers: 99 })).toMatch(/99 stranger images/);
    expect(openSetWarning({ ...enough, strangerIdentities: MIN_STRANGER_IDENTITIES - 1 })).toMatch(/stranger identities/);
    expect(openSetWarning({ ...enough, knownProbes: 0 })).toMatch(/two or more images/);
  });
});

describe('describeOpenSet', () => {
  it('says the rates in words, and the warning on its own line', () => {
    const text = describeOpenSet(calibrateOpenSet(openSetTrials(VECTORS, 1, LABELS), 0.3));
    expect(text).toMatch(/14\.3% of 7 stranger images \(3 people\) were matched to someone \(target 30%\), and 100% of 3 photos of known people/);
    expect(text).toMatch(/\nWARNING: too little calibration data/);
  });
});

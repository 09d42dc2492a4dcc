import { describe, expect, it } from 'vitest';
import { auc, equalErrorRate, ratesAtThreshold, retrievalMetrics, rocCurve, thresholdAtFar } from './metrics.js';

/** Small deterministic generator so the randomised checks are reproducible. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
    const random = mulberry32(1);
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
    const random = mulberry32(2);
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
    const random = mulberry32(3);
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
function naiveRetrieval(points: number[][], labels: number[], metric: 'l2' | 'cosine') {
  const distance = (a: number[], b: number[]): number => {
    if (metric === 'l2') return Math.hypot(...a.map((x, c) => x - b[c]));
    const dot = a.reduce((s, x, c) => s + x * b[c], 0);
    const norms = Math.hypot(...a) * Math.hypot(...b);
    return 1 - (norms > 0 ? dot / norms : 0);
  };
  let queries = 0;
  let p1 = 0;
  let rp = 0;
  let map = 0;
  points.forEach((query, q) => {
    const ranked = points
      .map((p, i) => ({ d: distance(query, p), rel: labels[i] === labels[q], i }))
      .filter((o) => o.i !== q)
      // Pessimistic ties: irrelevant items first.
      .sort((a, b) => a.d - b.d || Number(a.rel) - Number(b.rel));
    const r = ranked.filter((o) => o.rel).length;
    if (r === 0) return;
    queries++;
    p1 += ranked[0].rel ? 1 : 0;
    let hits = 0;
    let sum = 0;
    for (let i = 0; i < r; i++) {
      if (ranked[i].rel) {
        hits++;
        sum += hits / (i + 1);
      }
    }
    rp += hits / r;
    map += sum / r;
  });
  return { precisionAt1: p1 / queries, rPrecision: rp / queries, mapAtR: map / queries, queries };
}

describe('retrievalMetrics', () => {
  it('matches a hand-worked 1-D example', () => {
    // x:      0   1   2   3   10  100
    // label:  A   A   B   A   B   C  (C has no partner: skipped)
    // Query x=0  (A, R=2): A1 d1, B d2, A d3            -> ranks: rel,irr | P@1 1, RP 1/2, MAP@R (1/1)/2       = 1/2
    // Query x=1  (A, R=2): B d1 ties A d1 (B first), A d2 -> irr,rel | P@1 0, RP 1/2, MAP@R (1/2)/2       = 1/4
    // Query x=3  (A, R=2): B d1, A d2, A d3              -> irr,rel | P@1 0, RP 1/2, MAP@R (1/2)/2       = 1/4
    // Query x=2  (B, R=1): A d1 (x2)                     -> irr     | P@1 0, RP 0,   MAP@R 0
    // Query x=10 (B, R=1): A d7                          -> irr     | P@1 0, RP 0,   MAP@R 0
    // Means over 5 queries: P@1 = 1/5, RP = 1.5/5 = 0.3, MAP@R = (1/2 + 1/4 + 1/4)/5 = 0.2.
    const vectors = Float32Array.from([0, 1, 2, 3, 10, 100]);
    const result = retrievalMetrics(vectors, 1, [0, 0, 1, 0, 1, 2], 'l2');
    expect(result.queries).toBe(5);
    expect(result.queriesSkipped).toBe(1);
    expect(result.precisionAt1).toBeCloseTo(0.2, 12);
    expect(result.rank1).toBe(result.precisionAt1);
    expect(result.rPrecision).toBeCloseTo(0.3, 12);
    expect(result.mapAtR).toBeCloseTo(0.2, 12);
  });

  it('separates MAP@R from R-precision when relevant items come late in the top R', () => {
    // x:      0   1   2   3   4   9
    // label:  A   A   B   A   A   C   (B and C have no partner: 2 skipped, 4 queries with R = 3)
    // Query x=0: A d1, B d2, A d3 | top 3 = rel, irr, rel -> P@1 1, RP 2/3, MAP@R (1/1 + 2/3)/3 = 5/9
    // Query x=1: B d1 ties A d1 (B first), A d2 | irr, rel, rel -> P@1 0, RP 2/3, MAP@R (1/2 + 2/3)/3 = 7/18
    // Query x=3: B d1 ties A d1 (B first), A d2 | irr, rel, rel -> P@1 0, RP 2/3, MAP@R 7/18
    // Query x=4: A d1, B d2, A d3 | rel, irr, rel -> P@1 1, RP 2/3, MAP@R 5/9
    // Means: P@1 = 2/4, RP = 2/3, MAP@R = (10 + 7 + 7 + 10)/18/4 = 17/36.
    const result = retrievalMetrics(Float32Array.from([0, 1, 2, 3, 4, 9]), 1, [0, 0, 1, 0, 0, 2], 'l2');
    expect(result.queries).toBe(4);
    expect(result.queriesSkipped).toBe(2);
    expect(result.precisionAt1).toBeCloseTo(0.5, 12);
    expect(result.rPrecision).toBeCloseTo(2 / 3, 12);
    expect(result.mapAtR).toBeCloseTo(17 / 36, 12);
  });

  it('is perfect on well-separated clusters with either metric', () => {
    const vectors = Float32Array.from([10, 0, 11, 0.5, 0, 10, 0.5, 11, -10, -10, -11, -11.5]);
    for (const metric of ['l2', 'cosine'] as const) {
      const result = retrievalMetrics(vectors, 2, [7, 7, 8, 8, 9, 9], metric);
      expect(result).toEqual({ precisionAt1: 1, rPrecision: 1, mapAtR: 1, rank1: 1, queries: 6, queriesSkipped: 0 });
    }
  });

  it('scores collapsed embeddings as chance-or-worse, not perfect (pessimistic ties)', () => {
    const vectors = new Float32Array(6 * 3).fill(0.5);
    const result = retrievalMetrics(vectors, 3, [0, 0, 1, 1, 2, 2], 'cosine');
    expect(result.precisionAt1).toBe(0);
    expect(result.mapAtR).toBe(0);
  });

  it('agrees with the naive definition on random data, both metrics', () => {
    const random = mulberry32(4);
    const n = 60;
    const dim = 5;
    // Coarse values make distance ties common; a few zero vectors exercise cosine's zero-norm case.
    const points = Array.from({ length: n }, (_, i) =>
      Array.from({ length: dim }, () => (i % 17 === 0 ? 0 : Math.round(random() * 4) / 2)),
    );
    const labels = Array.from({ length: n }, () => Math.floor(random() * 12));
    const vectors = Float32Array.from(points.flat());
    for (const metric of ['l2', 'cosine'] as const) {
      const fast = retrievalMetrics(vectors, dim, labels, metric);
      const naive = naiveRetrieval(points, labels, metric);
      expect(fast.queries).toBe(naive.queries);
      expect(fast.precisionAt1).toBeCloseTo(naive.precisionAt1, 10);
      expect(fast.rPrecision).toBeCloseTo(naive.rPrecision, 10);
      expect(fast.mapAtR).toBeCloseTo(naive.mapAtR, 10);
    }
  });

  it('validates its inputs', () => {
    expect(() => retrievalMetrics(new Float32Array(5), 2, [0, 0], 'l2')).toThrow(/expected/);
    expect(() => retrievalMetrics(Float32Array.from([0, Number.NaN]), 1, [0, 0], 'l2')).toThrow(/finite/);
    expect(() => retrievalMetrics(Float32Array.from([0, 1]), 1, [0, 1], 'l2')).toThrow(/nothing to retrieve/);
  });
});

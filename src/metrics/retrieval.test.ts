import { describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.js';
import { retrievalMetrics } from './retrieval.js';

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
    const random = createRng(4).next;
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

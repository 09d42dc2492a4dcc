import { describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.js';
import { applySimilarity, fitSimilarity, similarityScale } from './similarity.js';

describe('fitSimilarity', () => {
  it('recovers a rotation, scale and shift exactly from noise-free points', () => {
    const rng = createRng(3);
    const truth = { a: 1.7 * Math.cos(0.4), b: 1.7 * Math.sin(0.4), tx: -12.5, ty: 40 };
    const from = Array.from({ length: 10 }, () => ({ x: rng.uniform(-50, 50), y: rng.uniform(-50, 50) }));
    const fit = fitSimilarity(from, from.map((p) => applySimilarity(truth, p)));
    for (const key of ['a', 'b', 'tx', 'ty'] as const) expect(fit[key]).toBeCloseTo(truth[key], 9);
    expect(similarityScale(fit)).toBeCloseTo(1.7, 9);
  });

  it('maps two points onto two points exactly', () => {
    const t = fitSimilarity([{ x: 0, y: 0 }, { x: 1, y: 0 }], [{ x: 10, y: 10 }, { x: 10, y: 12 }]);
    expect(applySimilarity(t, { x: 0, y: 0 })).toEqual({ x: 10, y: 10 });
    expect(applySimilarity(t, { x: 1, y: 0 }).x).toBeCloseTo(10, 12);
    expect(applySimilarity(t, { x: 1, y: 0 }).y).toBeCloseTo(12, 12);
  });

  it('is the least-squares fit when points disagree, and never mirrors', () => {
    // A mirror image cannot be matched by a similarity: the best fit shrinks to the centroid.
    const from = [{ x: -1, y: 0 }, { x: 1, y: 0 }, { x: 0, y: 1 }, { x: 0, y: -1 }];
    const mirrored = from.map((p) => ({ x: p.x, y: -p.y }));
    const t = fitSimilarity(from, mirrored);
    expect(t.a).toBeCloseTo(0, 12);
    expect(t.b).toBeCloseTo(0, 12);
  });

  it('rejects too few or coincident points', () => {
    expect(() => fitSimilarity([{ x: 0, y: 0 }], [{ x: 1, y: 1 }])).toThrow(RangeError);
    expect(() => fitSimilarity([{ x: 1, y: 1 }, { x: 1, y: 1 }], [{ x: 0, y: 0 }, { x: 2, y: 2 }])).toThrow(/coincide/);
  });
});

import { describe, expect, it } from 'vitest';
import { createRng } from './rng.js';

const draw = (seed: number, n: number): number[] => {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => rng.next());
};

describe('createRng', () => {
  it('is reproducible for one seed and differs between seeds', () => {
    expect(draw(42, 100)).toEqual(draw(42, 100));
    expect(draw(42, 100)).not.toEqual(draw(43, 100));
    // Seeds beyond 32 bits are not folded onto small ones.
    expect(draw(2 ** 32 + 1, 10)).not.toEqual(draw(1, 10));
  });

  it('keeps next() in [0, 1) with a roughly uniform mean', () => {
    const values = draw(7, 20_000);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    expect(mean).toBeGreaterThan(0.48);
    expect(mean).toBeLessThan(0.52);
  });

  it('int(n) covers exactly 0..n-1', () => {
    const rng = createRng(1);
    const counts = new Array<number>(7).fill(0);
    for (let i = 0; i < 7000; i++) counts[rng.int(7)]++;
    for (const c of counts) expect(c).toBeGreaterThan(800);
    expect(counts.reduce((s, c) => s + c, 0)).toBe(7000);
    expect(() => rng.int(0)).toThrow(RangeError);
    expect(() => rng.int(2.5)).toThrow(RangeError);
  });

  it('uniform(lo, hi) stays in range', () => {
    const rng = createRng(3);
    for (let i = 0; i < 1000; i++) {
      const v = rng.uniform(-2, 5);
      expect(v).toBeGreaterThanOrEqual(-2);
      expect(v).toBeLessThan(5);
    }
  });

  it('normal() has mean ~0 and standard deviation ~1', () => {
    const rng = createRng(11);
    const n = 20_000;
    const xs = Array.from({ length: n }, () => rng.normal());
    const mean = xs.reduce((s, v) => s + v, 0) / n;
    const variance = xs.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.sqrt(variance)).toBeGreaterThan(0.95);
    expect(Math.sqrt(variance)).toBeLessThan(1.05);
    expect(xs.every(Number.isFinite)).toBe(true);
  });

  it('shuffle is an in-place, reproducible permutation', () => {
    const a = Array.from({ length: 50 }, (_, i) => i);
    const result = createRng(5).shuffle(a);
    expect(result).toBe(a);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(a).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(createRng(5).shuffle(Array.from({ length: 50 }, (_, i) => i))).toEqual(a);
  });

  it('pick returns members and rejects empty arrays', () => {
    const rng = createRng(9);
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(rng.pick(['a', 'b', 'c']));
    expect([...seen].sort()).toEqual(['a', 'b', 'c']);
    expect(() => rng.pick([])).toThrow(/empty/);
  });

  it('fork gives deterministic, independent child streams', () => {
    const p1 = createRng(100);
    const p2 = createRng(100);
    const c1 = p1.fork();
    const c2 = p2.fork();
    const childDraws = Array.from({ length: 20 }, () => c1.next());
    expect(Array.from({ length: 20 }, () => c2.next())).toEqual(childDraws);
    // The child is not the parent's continuation, and siblings differ.
    expect(Array.from({ length: 20 }, () => p1.next())).not.toEqual(childDraws);
    const sibling = p2.fork();
    expect(Array.from({ length: 20 }, () => sibling.next())).not.toEqual(childDraws);
  });
});

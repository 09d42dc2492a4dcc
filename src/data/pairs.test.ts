import { describe, expect, it } from 'vitest';
import { allPairs, groupByLabel, samplePairs, samplePK, sampleNPair, splitByIdentity } from './pairs.js';
import { createRng } from './rng.js';

/** Labels for classes of the given sizes, laid out class by class. */
const labelsOf = (sizes: number[]): Int32Array => Int32Array.from(sizes.flatMap((size, label) => new Array<number>(size).fill(label)));

describe('splitByIdentity', () => {
  it('splits identities into disjoint, complete, sorted sets', () => {
    const { train, val } = splitByIdentity(40, 0.25, createRng(1));
    expect(val).toHaveLength(10);
    expect(train).toHaveLength(30);
    expect(new Set([...train, ...val]).size).toBe(40);
    expect(train.filter((t) => val.includes(t))).toEqual([]);
    expect(train).toEqual([...train].sort((a, b) => a - b));
  });

  it('is deterministic by seed', () => {
    expect(splitByIdentity(50, 0.2, createRng(7))).toEqual(splitByIdentity(50, 0.2, createRng(7)));
    expect(splitByIdentity(50, 0.2, createRng(7)).val).not.toEqual(splitByIdentity(50, 0.2, createRng(8)).val);
  });

  it('keeps at least 2 identities on each side', () => {
    expect(splitByIdentity(10, 0.01, createRng(1)).val).toHaveLength(2);
    expect(splitByIdentity(10, 0.99, createRng(1)).train).toHaveLength(2);
    expect(() => splitByIdentity(3, 0.5, createRng(1))).toThrow(/at least 4 identities/);
  });

  it('puts everything in train for valFraction 0 and rejects bad fractions', () => {
    expect(splitByIdentity(3, 0, createRng(1))).toEqual({ train: [0, 1, 2], val: [] });
    expect(() => splitByIdentity(10, 1, createRng(1))).toThrow(RangeError);
    expect(() => splitByIdentity(10, -0.1, createRng(1))).toThrow(RangeError);
  });
});

describe('groupByLabel', () => {
  it('maps each label to its ascending image indices', () => {
    const groups = groupByLabel(Int32Array.of(2, 0, 2, 1, 0));
    expect([...groups.entries()].sort((a, b) => a[0] - b[0])).toEqual([
      [0, [1, 4]],
      [1, [3]],
      [2, [0, 2]],
    ]);
  });
});

describe('samplePairs', () => {
  // Class 3 has one image: it may appear in negatives only.
  const labels = labelsOf([5, 4, 6, 1]);
  const groups = groupByLabel(labels);

  it('is exactly half positive, half negative, with correct targets', () => {
    const { a, b, same } = samplePairs(groups, [0, 1, 2, 3], 200, createRng(3));
    expect(a).toHaveLength(200);
    expect(Array.from(same).filter((s) => s === 1)).toHaveLength(100);
    let singletonInNegative = false;
    for (let i = 0; i < 200; i++) {
      expect(same[i]).toBe(labels[a[i]] === labels[b[i]] ? 1 : 0);
      if (same[i] === 1) {
        expect(a[i]).not.toBe(b[i]);
        expect(labels[a[i]]).not.toBe(3);
      } else if (labels[a[i]] === 3 || labels[b[i]] === 3) singletonInNegative = true;
    }
    expect(singletonInNegative).toBe(true);
    // Shuffled: the first half is not all positives.
    expect(Array.from(same.subarray(0, 100)).every((s) => s === 1)).toBe(false);
  });

  it('only uses the given classes', () => {
    const { a, b } = samplePairs(groups, [0, 2], 100, createRng(4));
    for (const i of [...a, ...b]) expect([0, 2]).toContain(labels[i]);
  });

  it('is deterministic by seed', () => {
    expect(samplePairs(groups, [0, 1, 2], 64, createRng(5))).toEqual(samplePairs(groups, [0, 1, 2], 64, createRng(5)));
    expect(samplePairs(groups, [0, 1, 2], 64, createRng(5)).a).not.toEqual(samplePairs(groups, [0, 1, 2], 64, createRng(6)).a);
  });

  it('explains when pairs cannot be formed', () => {
    expect(() => samplePairs(groupByLabel(labelsOf([1, 1])), [0, 1], 4, createRng(1))).toThrow(/no class has 2/);
    expect(() => samplePairs(groups, [0], 4, createRng(1))).toThrow(/2 classes/);
  });
});

describe('samplePK', () => {
  const labels = labelsOf([6, 6, 6, 3, 1, 6]);
  const groups = groupByLabel(labels);

  it('gives P distinct classes with K distinct images each, class by class', () => {
    const batch = samplePK(groups, [0, 1, 2, 3, 4, 5], 3, 4, createRng(2));
    expect(batch).toHaveLength(12);
    const classes = new Set<number>();
    for (let p = 0; p < 3; p++) {
      const block = Array.from(batch.subarray(p * 4, p * 4 + 4));
      const label = labels[block[0]];
      classes.add(label);
      for (const i of block) expect(labels[i]).toBe(label);
      if (label !== 3) expect(new Set(block).size).toBe(4);
      expect(label).not.toBe(4); // a single-image class is never chosen
    }
    expect(classes.size).toBe(3);
  });

  it('tops up a class with fewer than K images by sampling with replacement, using all its images', () => {
    const batch = samplePK(groups, [3, 0], 2, 5, createRng(9));
    const block = Array.from(batch).filter((i) => labels[i] === 3);
    expect(block).toHaveLength(5);
    expect(new Set(block)).toEqual(new Set(groups.get(3)));
  });

  it('is deterministic by seed and fails clearly when too few classes are eligible', () => {
    expect(samplePK(groups, [0, 1, 2, 5], 2, 3, createRng(1))).toEqual(samplePK(groups, [0, 1, 2, 5], 2, 3, createRng(1)));
    expect(() => samplePK(groups, [3, 4], 2, 2, createRng(1))).toThrow(/need 2 classes/);
  });

  it('sampleNPair orders [a0, b0, a1, b1, ...] with matching, distinct pairs', () => {
    const batch = sampleNPair(groups, [0, 1, 2, 5], 4, createRng(3));
    expect(batch).toHaveLength(8);
    const pairClasses = new Set<number>();
    for (let p = 0; p < 4; p++) {
      expect(labels[batch[2 * p]]).toBe(labels[batch[2 * p + 1]]);
      expect(batch[2 * p]).not.toBe(batch[2 * p + 1]);
      pairClasses.add(labels[batch[2 * p]]);
    }
    expect(pairClasses.size).toBe(4);
  });
});

describe('allPairs', () => {
  const labels = Int32Array.of(0, 1, 0, 1, 2, 0);

  it('lists every positive and, uncapped, every negative pair', () => {
    const { a, b, same } = allPairs(labels, 1000, createRng(1));
    // 15 pairs in all: positives (0,2) (0,5) (2,5) (1,3), the other 11 negative.
    expect(a).toHaveLength(15);
    expect(Array.from(same.subarray(0, 4))).toEqual([1, 1, 1, 1]);
    expect(Array.from(a.subarray(0, 4))).toEqual([0, 0, 1, 2]);
    expect(Array.from(b.subarray(0, 4))).toEqual([2, 5, 3, 5]);
    for (let i = 4; i < 15; i++) {
      expect(same[i]).toBe(0);
      expect(labels[a[i]]).not.toBe(labels[b[i]]);
      expect(a[i]).toBeLessThan(b[i]);
    }
  });

  it('caps negatives at maxNegatives with distinct, deterministic draws (dense and sparse cases)', () => {
    for (const max of [6, 2]) {
      const capped = allPairs(labels, max, createRng(2));
      expect(capped.a).toHaveLength(4 + max);
      const keys = new Set(Array.from(capped.a.subarray(4)).map((x, k) => `${x},${capped.b[4 + k]}`));
      expect(keys.size).toBe(max);
      expect(allPairs(labels, max, createRng(2))).toEqual(capped);
    }
    const many = labelsOf(new Array<number>(50).fill(4));
    const sparse = allPairs(many, 500, createRng(3));
    expect(Array.from(sparse.same).filter((s) => s === 0)).toHaveLength(500);
    expect(Array.from(sparse.same).filter((s) => s === 1)).toHaveLength(50 * 6);
  });
});

import { describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.js';
import { KOCH_AFFINE_RANGES, type AffineRanges } from '../data/augment.js';
import { buildClassPool, materialiseBatch, planBatch, type BatchPlan } from './batch.js';

// Identities 0..4 with 3 images each; identity 1 is held out, so the pool's classes are 0, 2, 3, 4.
const labels = Int32Array.from({ length: 15 }, (_, i) => Math.floor(i / 3));
const names = ['a', 'b', 'c', 'd', 'e'];

describe('planBatch', () => {
  it('cosface: P x K images whose classes are proxy rows 0..C-1 of the training identities', () => {
    const pool = buildClassPool(labels, names, [0, 2, 3, 4], false);
    expect(pool.classes).toEqual([0, 2, 3, 4]);
    const plan = planBatch(pool, { loss: 'cosface', batchImages: 8, samplesPerIdentity: 2, groupsPerBatch: 0 }, createRng(1));
    expect(plan.refs).toHaveLength(8);
    for (let i = 0; i < plan.refs.length; i++) {
      const row = plan.classes[i]!;
      expect(row).toBeGreaterThanOrEqual(0);
      expect(row).toBeLessThan(4);
      // The row names the identity the image belongs to.
      expect(pool.classes[row]).toBe(labels[plan.refs[i]!]);
    }
    // K = 2 images of each of P = 4 identities.
    expect(new Set(plan.classes).size).toBe(4);
  });

  it('with rotated identities each rotation is its own proxy row', () => {
    const pool = buildClassPool(labels, names, [3, 4], true);
    expect(pool.classes).toEqual([12, 13, 14, 15, 16, 17, 18, 19]);
    const plan = planBatch(pool, { loss: 'cosface', batchImages: 16, samplesPerIdentity: 2, groupsPerBatch: 0 }, createRng(2));
    for (let i = 0; i < plan.refs.length; i++) {
      const ref = plan.refs[i]!;
      expect(pool.classes[plan.classes[i]!]).toBe(labels[Math.floor(ref / 4)]! * 4 + (ref % 4));
    }
  });

  it('pair losses plan a and b halves with same-identity flags', () => {
    const pool = buildClassPool(labels, names, [0, 2, 3, 4], false);
    const plan = planBatch(pool, { loss: 'contrastive', batchImages: 8, samplesPerIdentity: 2, groupsPerBatch: 0 }, createRng(3));
    const n = plan.refs.length / 2;
    expect(plan.same).toHaveLength(n);
    for (let i = 0; i < n; i++) {
      expect(plan.same![i] === 1).toBe(labels[plan.refs[i]!] === labels[plan.refs[n + i]!]);
    }
  });
});

describe('materialiseBatch', () => {
  const shape = [6, 5, 1] as const;
  const images = Float32Array.from({ length: 3 * 30 }, (_, i) => (i % 30) / 30 + Math.floor(i / 30));
  const plan: BatchPlan = { loss: 'cosface', refs: Int32Array.of(0, 1, 2, 1), classes: Int32Array.of(0, 1, 2, 1), augmentSeed: 11 };
  // No distortion and no mirror, so any change is the erasing's.
  const still: AffineRanges = { ...KOCH_AFFINE_RANGES, probability: 0, flipProbability: 0 };
  const source = Float32Array.from([0, 1, 2, 1].flatMap((k) => Array.from(images.subarray(k * 30, (k + 1) * 30))));

  it('random erasing replaces one rectangle of each image and nothing else', () => {
    expect(materialiseBatch(images, shape, plan, 1, still)).toEqual(source);
    const erased = materialiseBatch(images, shape, plan, 1, { ...still, erase: { probability: 1, area: [0.2, 0.2], aspect: [1.5, 1.5] } });
    for (let k = 0; k < 4; k++) {
      let changed = 0;
      for (let p = k * 30; p < (k + 1) * 30; p++) if (erased[p] !== source[p]) changed++;
      expect(changed).toBe(6); // 20% of 30 pixels: a 2 x 3 rectangle
    }
    expect(materialiseBatch(images, shape, plan, 1, { ...still, erase: { probability: 0, area: [0.2, 0.2], aspect: [1, 1] } })).toEqual(source);
  });
});

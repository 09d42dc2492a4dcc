import { describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.js';
import { KOCH_AFFINE_RANGES, rotate90 } from '../data/augment.js';
import { buildClassPool, materialiseBatch, planBatch, type BatchPlan } from './batch.js';

// Identities 0..4 with 3 images each; identity 1 is held out, so the pool's classes are 0, 2, 3, 4.
const labels = Int32Array.from({ length: 15 }, (_, i) => Math.floor(i / 3));

describe('planBatch', () => {
  it('cosface: P x K images whose classes are proxy rows 0..C-1 of the training identities', () => {
    const pool = buildClassPool(labels, [0, 2, 3, 4], false);
    expect(pool.classes).toEqual([0, 2, 3, 4]);
    const plan = planBatch(pool, { loss: 'cosface', batchImages: 8, samplesPerIdentity: 2 }, createRng(1));
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
    const pool = buildClassPool(labels, [3, 4], true);
    expect(pool.classes).toEqual([12, 13, 14, 15, 16, 17, 18, 19]);
    const plan = planBatch(pool, { loss: 'cosface', batchImages: 16, samplesPerIdentity: 2 }, createRng(2));
    for (let i = 0; i < plan.refs.length; i++) {
      const ref = plan.refs[i]!;
      expect(pool.classes[plan.classes[i]!]).toBe(labels[Math.floor(ref / 4)]! * 4 + (ref % 4));
    }
  });

  it('pair losses plan a and b halves with same-identity flags', () => {
    const pool = buildClassPool(labels, [0, 2, 3, 4], false);
    const plan = planBatch(pool, { loss: 'contrastive', batchImages: 8, samplesPerIdentity: 2 }, createRng(3));
    const n = plan.refs.length / 2;
    expect(plan.same).toHaveLength(n);
    for (let i = 0; i < n; i++) {
      expect(plan.same![i] === 1).toBe(labels[plan.refs[i]!] === labels[plan.refs[n + i]!]);
    }
  });
});

describe('materialiseBatch', () => {
  const shape = [5, 5, 1] as const;
  const images = Float32Array.from({ length: 3 * 25 }, (_, i) => (i % 25) / 25 + Math.floor(i / 25));
  const image = (k: number): Float32Array => images.subarray(k * 25, (k + 1) * 25);

  it('copies the referenced images, each turned by the quarter turns its reference encodes', () => {
    // With 4 rotations a reference is image * 4 + quarter turns.
    const plan: BatchPlan = { loss: 'cosface', refs: Int32Array.of(0 * 4 + 0, 2 * 4 + 1, 1 * 4 + 3), classes: Int32Array.of(0, 1, 2), augmentSeed: 11 };
    const out = materialiseBatch(images, shape, plan, 4, null);
    expect(out.subarray(0, 25)).toEqual(image(0));
    expect(out.subarray(25, 50)).toEqual(rotate90(image(2), 5, 5, 1, 1));
    expect(out.subarray(50, 75)).toEqual(rotate90(image(1), 5, 5, 1, 3));
  });

  it("distorts as the plan's seed says: the same plan gives the same pixels in any worker, another seed other pixels", () => {
    const plan: BatchPlan = { loss: 'cosface', refs: Int32Array.of(0, 1, 2, 1), classes: Int32Array.of(0, 1, 2, 1), augmentSeed: 11 };
    const distorted = materialiseBatch(images, shape, plan, 1, KOCH_AFFINE_RANGES);
    expect(materialiseBatch(images, shape, plan, 1, KOCH_AFFINE_RANGES)).toEqual(distorted);
    expect(distorted).not.toEqual(materialiseBatch(images, shape, plan, 1, null));
    expect(materialiseBatch(images, shape, { ...plan, augmentSeed: 12 }, 1, KOCH_AFFINE_RANGES)).not.toEqual(distorted);
  });
});

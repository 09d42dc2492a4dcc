import { describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.js';
import { buildClassPool, planBatch } from './batch.js';

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

import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.js';
import { initBackend } from '../model/backend.js';
import { CHIP_SIZE } from './chip.js';
import { busyBackground } from './composite.js';
import { loadNet } from './nets.js';
import { FACE_DESCRIPTOR_DIM, loadFaceTower, type FaceTower } from './tower.js';

let tower: FaceTower;
// Chips with structure at every scale (the net's output on flat grey says little).
const chips = Array.from({ length: 3 }, (_, i) => Float32Array.from(busyBackground(CHIP_SIZE, CHIP_SIZE, createRng(i + 1)).data));

beforeAll(async () => {
  await initBackend({ preference: 'wasm', strict: true, log: () => {} });
  tower = await loadFaceTower();
});
afterAll(() => tower.dispose());

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('FaceTower.embed', () => {
  it("equals the package's own computeFaceDescriptor on the same chip", async () => {
    const { net } = await loadNet('recognition');
    try {
      const [ours] = await tower.embed([chips[0]]);
      const input = tf.tensor3d(chips[0], [CHIP_SIZE, CHIP_SIZE, 3]);
      const theirs = await net.computeFaceDescriptor(input);
      input.dispose();
      expect(ours).toHaveLength(FACE_DESCRIPTOR_DIM);
      expect(maxAbsDiff(ours, theirs)).toBeLessThan(1e-5);
    } finally {
      net.dispose();
    }
  });

  it('gives each chip the same descriptor in a batch as alone', async () => {
    const batch = await tower.embed(chips);
    for (const [i, chip] of chips.entries()) {
      const [alone] = await tower.embed([chip]);
      expect(maxAbsDiff(batch[i], alone)).toBeLessThan(1e-5);
    }
    // Different inputs, different descriptors.
    expect(maxAbsDiff(batch[0], batch[1])).toBeGreaterThan(1e-2);
  });

  it('leaves no tensor behind, also when a chip has the wrong size', async () => {
    await tower.embed([chips[0]]);
    const before = tf.memory().numTensors;
    await tower.embed(chips);
    await expect(tower.embed([chips[0], new Float32Array(10)])).rejects.toThrow(/chip 1 has 10 values/);
    expect(await tower.embed([])).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives the same descriptor on the cpu backend as on wasm', async () => {
    const [onWasm] = await tower.embed([chips[2]]);
    await tf.setBackend('cpu');
    try {
      const [onCpu] = await tower.embed([chips[2]]);
      expect(maxAbsDiff(onWasm, onCpu)).toBeLessThan(1e-4);
    } finally {
      await tf.setBackend('wasm');
    }
  });
});

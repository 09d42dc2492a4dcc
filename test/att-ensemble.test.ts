/** The ensemble experiment script: one model scores as `eval verify` does; two concatenate to unit vectors. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatUnitEmbeddings, evaluateEnsemble } from '../scripts/research/att-ensemble.js';
import { evaluateVerification } from '../src/eval/verify.js';
import { writeSyntheticGallery, writeTinyModel } from '../src/index/testing.js';
import { initBackend } from '../src/model/backend.js';
import { loadModel } from '../src/model/io.js';

let dir: string;
beforeAll(async () => {
  await initBackend({ preference: 'wasm', log: () => {} });
  dir = await mkdtemp(path.join(os.tmpdir(), 'twinsearch-ensemble-'));
  await writeSyntheticGallery(path.join(dir, 'gallery'), 4, 3);
  await writeTinyModel(path.join(dir, 'm1'), { seed: 1 });
  await writeTinyModel(path.join(dir, 'm2'), { seed: 2 });
  await writeTinyModel(path.join(dir, 'm3'), { seed: 3, flipAverage: true, center: [0.2, -0.1, 0.3, 0, 0.1, 0.05, -0.2, 0.1] });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('att-ensemble', () => {
  it('concatenates unit vectors into unit vectors', () => {
    const a = Float32Array.from([1, 0, 0, 1]); // 2 images, 2-d
    const b = Float32Array.from([0.6, 0.8, 0, 0, 0, 1]); // 2 images, 3-d
    const { vectors, dim } = concatUnitEmbeddings([a, b], 2);
    expect(dim).toBe(5);
    for (let i = 0; i < 2; i++) expect(Math.hypot(...vectors.subarray(i * 5, i * 5 + 5))).toBeCloseTo(1, 6);
  });

  it('one model gives the same EER and rank-1 as npm run eval -- verify (with its mirror and centre too); two models run', async () => {
    const gallery = path.join(dir, 'gallery');
    for (const model of ['m1', 'm3']) {
      const single = await evaluateEnsemble([path.join(dir, model)], gallery);
      const { tower, card } = await loadModel(path.join(dir, model));
      const reference = await evaluateVerification(tower, card, gallery);
      tower.dispose();
      expect(single.eer, model).toBeCloseTo(reference.eer, 6);
      expect(single.auc, model).toBeCloseTo(reference.auc, 6);
      expect(single.mapAtR, model).toBeCloseTo(reference.mapAtR, 6);
    }
    const both = await evaluateEnsemble([path.join(dir, 'm1'), path.join(dir, 'm2')], gallery);
    expect(both).toMatchObject({ identities: 4, images: 12 });
    expect(both.eer).toBeGreaterThanOrEqual(0);
  }, 60_000);
});

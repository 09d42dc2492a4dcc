/** The ensemble experiment script: one model scores as `eval verify` does; two score at the mean of their squared distances. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatUnitEmbeddings, evaluateEnsemble } from '../scripts/research/att-ensemble.js';
import { evaluateVerification, scoreVerification } from '../src/eval/verify.js';
import { loadImages, readGallery } from '../src/data/gallery.js';
import { auc, equalErrorRate, rocCurve, type PairDistances } from '../src/metrics/index.js';
import { embedImageSetAsync } from '../src/model/embed.js';
import { writeSyntheticGallery, writeTinyModel } from './fixtures/gallery.js';
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

  it('one model gives the same EER, AUC and MAP@R as npm run eval -- verify (with its mirror and centre too)', async () => {
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
  }, 60_000);

  it("two models score each pair at the mean of the models' squared distances", async () => {
    const gallery = path.join(dir, 'gallery');
    const both = await evaluateEnsemble([path.join(dir, 'm1'), path.join(dir, 'm2')], gallery);
    expect(both).toMatchObject({ identities: 4, images: 12 });
    // Each model's own pair distances on the same pairs, combined by hand.
    const distances = [];
    for (const model of ['m1', 'm2']) {
      const { tower, card } = await loadModel(path.join(dir, model));
      const set = await loadImages(await readGallery(gallery), card.preprocess);
      const vectors = await embedImageSetAsync(tower, set.data, set.count, set.shape, { l2Normalize: true });
      tower.dispose();
      distances.push(scoreVerification(vectors, card.embeddingSize, set.labels).distances);
    }
    const [a, b] = distances as [PairDistances, PairDistances];
    const mean = (x: Float64Array, y: Float64Array): Float64Array => x.map((d, k) => Math.sqrt((d * d + y[k]! * y[k]!) / 2));
    const roc = rocCurve(mean(a.same, b.same), mean(a.different, b.different));
    expect(both.eer).toBeCloseTo(equalErrorRate(roc).eer, 6);
    expect(both.auc).toBeCloseTo(auc(roc), 6);
    // The two models disagree, so the ensemble is neither of them.
    expect(both.auc).not.toBeCloseTo(auc(rocCurve(a.same, a.different)), 3);
    expect(both.auc).not.toBeCloseTo(auc(rocCurve(b.same, b.different)), 3);
  }, 60_000);
});

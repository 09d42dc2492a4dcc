import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PREPROCESS } from '../model/config.js';
import { embedImageSet } from '../model/embed.js';
import { buildTower } from '../model/tower.js';
import { centerSample, meanEmbedding } from './center.js';

const SHAPE: [number, number, number] = [12, 12, 1];
const COUNT = 11;
let tower: tf.LayersModel;
let images: Float32Array;

beforeAll(async () => {
  await tf.setBackend('cpu');
  tower = buildTower({ arch: 'writeup', filters: 4, embeddingSize: 6, l2Normalize: true }, { ...DEFAULT_PREPROCESS, width: 12, height: 12 }, 3);
  images = Float32Array.from({ length: COUNT * 144 }, (_, i) => Math.cos(i * 0.29) * 0.5 + 0.5);
});

afterAll(() => tower.dispose());

describe('centerSample', () => {
  it('takes the images of the given identities, in order', () => {
    expect(centerSample(new Int32Array([0, 0, 1, 2, 1, 2]), [0, 2])).toEqual([0, 1, 3, 5]);
    expect(centerSample(new Int32Array([0, 1]), [])).toEqual([]);
  });

  it('thins evenly to the cap, keeping first and spread-out images', () => {
    const labels = new Int32Array(100); // all identity 0
    const sample = centerSample(labels, [0], 10);
    expect(sample).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  });
});

describe('meanEmbedding', () => {
  it('is the mean of the unit embeddings of the chosen images, in chunks that do not divide them, without leaking tensors', async () => {
    const all = embedImageSet(tower, images, COUNT, SHAPE, { l2Normalize: true, flipAverage: true });
    const picked = [0, 2, 3, 5, 7, 8, 10];
    const expected = Array.from({ length: 6 }, (_, j) => picked.reduce((sum, i) => sum + all[i * 6 + j]!, 0) / picked.length);
    const before = tf.memory().numTensors;
    const center = await meanEmbedding(tower, images, SHAPE, picked, { l2Normalize: true, flipAverage: true }, { chunk: 3, batchSize: 2 });
    expect(tf.memory().numTensors).toBe(before);
    expect(center).toEqual(expected.map((v) => expect.closeTo(v, 6)));
  });

  it('refuses what would give a meaningless centre', async () => {
    await expect(meanEmbedding(tower, images, SHAPE, [0], { l2Normalize: false })).rejects.toThrow(/needs l2Normalize/);
    await expect(meanEmbedding(tower, images, SHAPE, [0], { l2Normalize: true, center: [0, 0, 0, 0, 0, 0] })).rejects.toThrow(/centred already/);
    await expect(meanEmbedding(tower, images, SHAPE, [], { l2Normalize: true })).rejects.toThrow(/no images/);
    await expect(meanEmbedding(tower, images, SHAPE, [COUNT], { l2Normalize: true })).rejects.toThrow(/outside the 11 images/);
  });
});

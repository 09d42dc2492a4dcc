import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PREPROCESS } from './config.js';
import {
  cosineDistance,
  distance,
  dot,
  embed,
  embedImageSet,
  embedImageSetAsync,
  embeddingSizeOf,
  l2Distance,
  l2Norm,
  l2NormalizeRows,
  l2NormalizeVector,
  squaredL2Distance,
} from './embed.js';
import { buildTower } from './tower.js';

const SHAPE: [number, number, number] = [12, 12, 1];
let tower: tf.LayersModel;
let images: Float32Array;
const COUNT = 7;

beforeAll(async () => {
  await tf.setBackend('cpu');
  tower = buildTower({ arch: 'writeup', filters: 4, embeddingSize: 6, l2Normalize: true }, { ...DEFAULT_PREPROCESS, width: 12, height: 12 }, 11);
  images = Float32Array.from({ length: COUNT * 144 }, (_, i) => Math.sin(i * 0.37) * 0.5 + 0.5);
});

afterAll(() => tower.dispose());

function rowNorms(values: Float32Array, dim: number): number[] {
  return Array.from({ length: values.length / dim }, (_, r) => l2Norm(values.subarray(r * dim, (r + 1) * dim)));
}

describe('l2NormalizeRows', () => {
  it('divides each row by its norm and keeps a zero row at zero (no NaN)', () => {
    const out = l2NormalizeRows(tf.tensor2d([[3, 4], [0, 0], [-2, 0]]));
    expect(Array.from(out.dataSync())).toEqual([0.6000000238418579, 0.800000011920929, 0, 0, -1, 0]);
    out.dispose();
  });

  it('has finite gradients at a zero row', () => {
    const g = tf.grad((x: tf.Tensor) => tf.sum(l2NormalizeRows(x as tf.Tensor2D)))(tf.zeros([1, 3]));
    expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
    g.dispose();
  });
});

describe('embed', () => {
  it('returns one (optionally unit-length) row per image without leaking tensors', () => {
    const x = tf.tensor4d(images, [COUNT, ...SHAPE]);
    const before = tf.memory().numTensors;
    const raw = embed(tower, x, { l2Normalize: false });
    const unit = embed(tower, x, { l2Normalize: true });
    expect(tf.memory().numTensors).toBe(before + 2);
    expect(raw.shape).toEqual([COUNT, 6]);
    const norms = rowNorms(unit.dataSync() as Float32Array, 6);
    for (const n of norms) expect(n).toBeCloseTo(1, 5);
    // Normalising the raw rows by hand gives the normalised output.
    const rawRows = raw.arraySync();
    const unitRows = unit.arraySync();
    rawRows.forEach((row, r) => expect(Array.from(l2NormalizeVector(row))).toEqual(unitRows[r].map((v) => expect.closeTo(v, 6))));
    for (const t of [x, raw, unit]) t.dispose();
  });

  it('with flipAverage: an image and its mirror embed alike, as the mean of the two views, without leaking tensors', () => {
    const x = tf.tensor4d(images, [COUNT, ...SHAPE]);
    const mirror = tf.reverse(x, 2);
    const before = tf.memory().numTensors;
    const averaged = embed(tower, x, { l2Normalize: true, flipAverage: true });
    const ofMirror = embed(tower, mirror, { l2Normalize: true, flipAverage: true });
    const raw = embed(tower, x, { l2Normalize: false, flipAverage: true });
    expect(tf.memory().numTensors).toBe(before + 3);
    const a = averaged.dataSync() as Float32Array;
    const m = ofMirror.dataSync() as Float32Array;
    expect(Math.max(...a.map((v, i) => Math.abs(v - m[i]!)))).toBeLessThan(1e-6);
    for (const n of rowNorms(a, 6)) expect(n).toBeCloseTo(1, 5);
    // By hand: normalise each view's embedding, add, normalise.
    const own = embed(tower, x, { l2Normalize: true });
    const mirrored = embed(tower, mirror, { l2Normalize: true });
    const byHand = l2NormalizeRows(tf.add(own, mirrored) as tf.Tensor2D);
    const expected = byHand.dataSync();
    expect(Math.max(...a.map((v, i) => Math.abs(v - expected[i]!)))).toBeLessThan(1e-6);
    // The images are not mirror-symmetric, so averaging changes the embedding.
    expect(Math.max(...a.map((v, i) => Math.abs(v - own.dataSync()[i]!)))).toBeGreaterThan(1e-3);
    // Unnormalised: the plain mean of the two raw outputs.
    const rawMean = tf.tidy(() => tf.mul(tf.add(embed(tower, x, { l2Normalize: false }), embed(tower, mirror, { l2Normalize: false })), 0.5).dataSync());
    const r = raw.dataSync();
    expect(Math.max(...r.map((v, i) => Math.abs(v - rawMean[i]!)))).toBeLessThan(1e-6);
    for (const t of [x, mirror, averaged, ofMirror, raw, own, mirrored, byHand]) t.dispose();
  });

  it('with center: the unit embedding minus the centre, normalised again; mirror averaging still holds; no leak', () => {
    const x = tf.tensor4d(images, [COUNT, ...SHAPE]);
    const mirror = tf.reverse(x, 2);
    const unit = embed(tower, x, { l2Normalize: true, flipAverage: true });
    const u = unit.dataSync() as Float32Array;
    // Centre on the mean of these rows, as training does on its images.
    const center = Array.from({ length: 6 }, (_, j) => Array.from({ length: COUNT }, (_, r) => u[r * 6 + j]!).reduce((a, b) => a + b) / COUNT);
    const before = tf.memory().numTensors;
    const centred = embed(tower, x, { l2Normalize: true, flipAverage: true, center });
    const ofMirror = embed(tower, mirror, { l2Normalize: true, flipAverage: true, center });
    expect(tf.memory().numTensors).toBe(before + 2);
    const c = centred.dataSync() as Float32Array;
    for (let r = 0; r < COUNT; r++) {
      const byHand = l2NormalizeVector(u.subarray(r * 6, (r + 1) * 6).map((v, j) => v - center[j]!));
      expect(Array.from(c.subarray(r * 6, (r + 1) * 6))).toEqual(Array.from(byHand, (v) => expect.closeTo(v, 5)));
    }
    for (const n of rowNorms(c, 6)) expect(n).toBeCloseTo(1, 5);
    const m = ofMirror.dataSync() as Float32Array;
    expect(Math.max(...c.map((v, i) => Math.abs(v - m[i]!)))).toBeLessThan(1e-5);
    // Centring moves the rows apart: the smallest cosine between two images drops.
    const minCos = (rows: Float32Array) => Math.min(...Array.from({ length: COUNT - 1 }, (_, r) => dot(rows.subarray(r * 6, r * 6 + 6), rows.subarray(r * 6 + 6, r * 6 + 12))));
    expect(minCos(c)).toBeLessThan(minCos(u));
    expect(() => embed(tower, x, { l2Normalize: false, center })).toThrow(/center needs l2Normalize/);
    for (const t of [x, mirror, unit, centred, ofMirror]) t.dispose();
  });
});

describe('embedImageSet', () => {
  it('matches one big embed call, in batches that do not divide the count, reporting progress', () => {
    const x = tf.tensor4d(images, [COUNT, ...SHAPE]);
    const whole = embed(tower, x, { l2Normalize: true });
    const expected = Array.from(whole.dataSync());
    x.dispose();
    whole.dispose();

    const before = tf.memory().numTensors;
    const progress: [number, number][] = [];
    const out = embedImageSet(tower, images, COUNT, SHAPE, { batchSize: 3, l2Normalize: true, onProgress: (d, t) => progress.push([d, t]) });
    expect(tf.memory().numTensors).toBe(before);
    expect(out).toBeInstanceOf(Float32Array);
    expect(out.length).toBe(COUNT * embeddingSizeOf(tower));
    expect(Array.from(out)).toEqual(expected.map((v) => expect.closeTo(v, 6)));
    expect(progress).toEqual([[3, 7], [6, 7], [7, 7]]);
  });

  it('embeds only the first `count` images and handles count 0', () => {
    const three = embedImageSet(tower, images, 3, SHAPE, { l2Normalize: false });
    const all = embedImageSet(tower, images, COUNT, SHAPE, { l2Normalize: false });
    expect(Array.from(three)).toEqual(Array.from(all.subarray(0, 3 * 6)).map((v) => expect.closeTo(v, 6)));
    expect(embedImageSet(tower, images, 0, SHAPE, { l2Normalize: true }).length).toBe(0);
  });

  it('rejects a shape that does not match the tower, or too little data', () => {
    expect(() => embedImageSet(tower, images, 1, [28, 28, 1], { l2Normalize: true })).toThrow(/does not match/);
    expect(() => embedImageSet(tower, images, COUNT + 1, SHAPE, { l2Normalize: true })).toThrow(/fewer than 8 images/);
    expect(() => embedImageSet(tower, images, 2, SHAPE, { l2Normalize: true, batchSize: 0 })).toThrow(/batchSize/);
  });

  it('async variant gives the same vectors and lets other callbacks run between batches', async () => {
    const sync = embedImageSet(tower, images, COUNT, SHAPE, { batchSize: 2, l2Normalize: true });
    const before = tf.memory().numTensors;
    let otherWorkRan = false;
    setImmediate(() => {
      otherWorkRan = true;
    });
    let ranBeforeLastBatch = false;
    const out = await embedImageSetAsync(tower, images, COUNT, SHAPE, {
      batchSize: 2,
      l2Normalize: true,
      onProgress: (done, total) => {
        if (done === total) ranBeforeLastBatch = otherWorkRan;
      },
    });
    expect(ranBeforeLastBatch).toBe(true);
    expect(Array.from(out)).toEqual(Array.from(sync));
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('distance helpers', () => {
  const a = new Float32Array([1, 2, 2]);
  const b = new Float32Array([4, 6, 2]);

  it('computes dot, norm, squared and plain Euclidean distance', () => {
    expect(dot(a, b)).toBe(4 + 12 + 4);
    expect(l2Norm(a)).toBe(3);
    // (4-1)^2 + (6-2)^2 + 0 = 9 + 16 = 25
    expect(squaredL2Distance(a, b)).toBe(25);
    expect(l2Distance(a, b)).toBe(5);
    expect(distance('l2', a, b)).toBe(5);
  });

  it('computes cosine distance 1 - a.b / (|a||b|)', () => {
    // |a| = 3, |b| = sqrt(16 + 36 + 4) = sqrt(56); 1 - 20 / (3 sqrt 56)
    expect(cosineDistance(a, b)).toBeCloseTo(1 - 20 / (3 * Math.sqrt(56)), 12);
    expect(distance('cosine', [1, 0], [0, 1])).toBe(1);
    expect(cosineDistance([1, 0], [-1, 0])).toBe(2);
    expect(cosineDistance([0, 0], [1, 0])).toBe(1);
  });

  it('relates cosine and l2 distance for unit vectors: cos = l2^2 / 2', () => {
    const ua = l2NormalizeVector(a);
    const ub = l2NormalizeVector(b);
    expect(l2Norm(ua)).toBeCloseTo(1, 6);
    expect(cosineDistance(ua, ub)).toBeCloseTo(squaredL2Distance(ua, ub) / 2, 6);
    expect(Array.from(l2NormalizeVector([0, 0]))).toEqual([0, 0]);
  });

  it('rejects vectors of different lengths', () => {
    expect(() => l2Distance([1, 2], [1])).toThrow(/differ in length/);
  });
});

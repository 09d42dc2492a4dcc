import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PREPROCESS, DEFAULT_TOWER, type PreprocessConfig, type TowerConfig } from './config.js';
import { buildTower, towerSummary } from './tower.js';

const pre = (size: number, channels: 1 | 3 = 1): PreprocessConfig => ({ ...DEFAULT_PREPROCESS, width: size, height: size, channels });
const tower = (arch: TowerConfig['arch'], filters: number, embeddingSize: number): TowerConfig => ({ arch, filters, embeddingSize, l2Normalize: true });

/** Output shapes of the conv / pool / flatten layers, batch dimension dropped. */
const shapes = (model: tf.LayersModel): number[][] => towerSummary(model).layers.map((l) => l.outputShape);

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('buildTower', () => {
  it('builds the default conv4 tower for 28x28 greyscale: 28 -> 14 -> 7 -> 3 -> 1, then a 64-d projection', () => {
    const model = buildTower(DEFAULT_TOWER, DEFAULT_PREPROCESS, 1);
    expect(model.name).toBe('tower_conv4');
    expect(model.inputs[0].shape).toEqual([null, 28, 28, 1]);
    expect(model.outputs[0].shape).toEqual([null, 64]);
    const s = shapes(model);
    expect(s.filter((_, i) => model.layers[i].getClassName() === 'MaxPooling2D')).toEqual([[14, 14, 64], [7, 7, 64], [3, 3, 64], [1, 1, 64]]);
    // conv1 3*3*1*64+64 = 640; conv2..4 3*3*64*64+64 = 36928 each; projection 64*64+64 = 4160.
    expect(model.countParams()).toBe(640 + 3 * 36928 + 4160);
    expect(towerSummary(model).parameters).toBe(model.countParams());
    model.dispose();
  });

  it('builds conv4 for 105x105 RGB: 105 -> 52 -> 26 -> 13 -> 6, flatten 6*6*f', () => {
    const model = buildTower(tower('conv4', 8, 16), pre(105, 3), 1);
    const flatten = model.getLayer('flatten');
    expect(flatten.outputShape).toEqual([null, 6 * 6 * 8]);
    expect(model.outputs[0].shape).toEqual([null, 16]);
    model.dispose();
  });

  it('builds the write-up tower with valid convs: 28 -> 26 -> 13 -> 11 -> 5, dense 4f, projection', () => {
    const model = buildTower(tower('writeup', 32, 64), pre(28), 1);
    expect(shapes(model)).toEqual([[26, 26, 32], [13, 13, 32], [11, 11, 64], [5, 5, 64], [1600], [128], [64]]);
    // 320 + 18496 + (1600*128+128) + (128*64+64)
    expect(model.countParams()).toBe(320 + 18496 + 204928 + 8256);
    model.dispose();
  });

  it("builds Koch et al.'s tower at 105x105: 96 -> 48 -> 42 -> 21 -> 18 -> 9 -> 6, flatten 6*6*4f", () => {
    const model = buildTower(tower('koch', 4, 32), pre(105), 1);
    expect(shapes(model)).toEqual([[96, 96, 4], [48, 48, 4], [42, 42, 8], [21, 21, 8], [18, 18, 8], [9, 9, 8], [6, 6, 16], [576], [32]]);
    model.dispose();
  });

  it('rejects inputs too small for the architecture with a readable error', () => {
    expect(() => buildTower(tower('koch', 4, 8), pre(28))).toThrow(/too small/);
    expect(() => buildTower(tower('conv4', 4, 8), pre(8))).toThrow(/too small/);
    expect(() => buildTower(tower('conv4', 0, 8), pre(28))).toThrow(/filters/);
  });

  it('is reproducible with a seed and differs without one', () => {
    const weights = (m: tf.LayersModel): Float32Array[] => m.getWeights().map((w) => w.dataSync() as Float32Array);
    const a = buildTower(tower('writeup', 4, 8), pre(12), 7);
    const b = buildTower(tower('writeup', 4, 8), pre(12), 7);
    const c = buildTower(tower('writeup', 4, 8), pre(12), 8);
    const d = buildTower(tower('writeup', 4, 8), pre(12));
    expect(weights(a)).toEqual(weights(b));
    expect(weights(a)[0]).not.toEqual(weights(c)[0]);
    expect(weights(a)[0]).not.toEqual(weights(d)[0]);
    // Per-layer seeds: the two dense kernels are not copies of each other's first values.
    expect(weights(a)[4].slice(0, 4)).not.toEqual(weights(a)[6].slice(0, 4));
    for (const m of [a, b, c, d]) m.dispose();
  });

  it('maps a batch of images to a batch of embeddings', () => {
    const model = buildTower(tower('conv4', 4, 5), pre(28), 3);
    const out = tf.tidy(() => model.predict(tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 1)) as tf.Tensor);
    expect(out.shape).toEqual([3, 5]);
    expect(Array.from(out.dataSync()).every(Number.isFinite)).toBe(true);
    out.dispose();
    model.dispose();
  });
});

describe('towerSummary', () => {
  it('counts parameters and 2 x multiply-adds per image by hand for a tiny write-up tower on 10x10', () => {
    const model = buildTower(tower('writeup', 2, 3), pre(10), 1);
    const summary = towerSummary(model);
    // conv1 3x3x1->2 valid: out 8x8x2, MACs 8*8*2*9*1 = 1152 -> 2304 FLOPs; params 9*2+2 = 20
    // pool -> 4x4x2; conv2 3x3x2->4: out 2x2x4, MACs 2*2*4*9*2 = 288 -> 576; params 9*2*4+4 = 76
    // pool -> 1x1x4; dense 4 -> 8: MACs 32 -> 64; params 40.  embedding 8 -> 3: MACs 24 -> 48; params 27.
    expect(summary.flopsPerImage).toBe(2304 + 576 + 64 + 48);
    expect(summary.parameters).toBe(20 + 76 + 40 + 27);
    expect(summary.layers.map((l) => l.name)).toEqual(['conv1', 'pool1', 'conv2', 'pool2', 'flatten', 'dense1', 'embedding']);
    model.dispose();
  });
});

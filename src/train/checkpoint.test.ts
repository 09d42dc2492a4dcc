import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PREPROCESS, type PreprocessConfig, type TowerConfig } from '../model/config.js';
import { embed } from '../model/embed.js';
import { ModelLoadError } from '../model/io.js';
import { contrastiveLoss, pairDistance } from '../model/losses.js';
import { buildTower, trainableVariables } from '../model/tower.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';

const PRE: PreprocessConfig = { ...DEFAULT_PREPROCESS, width: 12, height: 12 };
const TOWER: TowerConfig = { arch: 'writeup', filters: 4, embeddingSize: 6, l2Normalize: true };

let root: string;
let x: tf.Tensor4D;

beforeAll(async () => {
  await tf.setBackend('cpu');
  root = await mkdtemp(join(tmpdir(), 'twinsearch-checkpoint-'));
  x = tf.randomUniform([5, 12, 12, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
});

afterAll(async () => {
  x.dispose();
  await rm(root, { recursive: true, force: true });
});

const embeddingsOf = (tower: tf.LayersModel): number[] => tf.tidy(() => Array.from(embed(tower, x, { l2Normalize: true }).dataSync()));

const expectLoadError = (promise: Promise<unknown>, code: ModelLoadError['code'], message = /./): Promise<void> =>
  expect(promise).rejects.toSatisfy((e: unknown) => e instanceof ModelLoadError && e.code === code && message.test(e.message));

describe('saveCheckpoint / loadCheckpoint', () => {
  const xa = (): tf.Tensor4D => x.slice([0, 0, 0, 0], [4, -1, -1, -1]);
  const xb = (): tf.Tensor4D => x.slice([1, 0, 0, 0], [4, -1, -1, -1]);
  const same = [1, 0, 1, 0];

  function trainStep(tower: tf.LayersModel, optimizer: tf.Optimizer): void {
    optimizer
      .minimize(() => {
        const d = pairDistance(embed(tower, xa(), { l2Normalize: false }), embed(tower, xb(), { l2Normalize: false }));
        return contrastiveLoss(d, tf.tensor1d(same), 1);
      }, false, trainableVariables(tower))
      ?.dispose();
  }

  it('resumes exactly: tower, variables, Adam state and JSON state survive, and the next step matches', async () => {
    const dir = join(root, 'checkpoint');
    const tower = buildTower(TOWER, PRE, 3);
    const adam = tf.train.adam(0.01);
    trainStep(tower, adam);
    trainStep(tower, adam);
    const saved = await adam.getWeights();
    const variables = [new Float32Array([1.5, -2, 3]), new Float32Array([25]), new Float32Array(0)];
    const state = { epoch: 2, step: 7, rng: { s: [1, 2, 3, 4] }, history: [{ loss: 0.5 }] };
    await saveCheckpoint(dir, tower, { state, weights: variables, optimizer: saved });
    expect((await readdir(dir)).sort()).toEqual(['checkpoint.json', 'model.json', 'optimizer.bin', 'variables.bin', 'weights.bin']);

    const ckpt = await loadCheckpoint(dir);
    expect(ckpt.state).toEqual(state);
    expect(ckpt.weights).toEqual(variables);
    expect(embeddingsOf(ckpt.tower)).toEqual(embeddingsOf(tower));
    expect(ckpt.optimizer.map((w) => w.name)).toEqual(saved.map((w) => w.name));
    ckpt.optimizer.forEach((w, i) => {
      expect(w.tensor.dtype).toBe(saved[i].tensor.dtype);
      expect(Array.from(w.tensor.dataSync())).toEqual(Array.from(saved[i].tensor.dataSync()));
    });

    // One more step from the original and from the restored state lands on the same weights. Not bit for
    // bit: tfjs's Adam.setWeights recomputes beta^t with pow() where training multiplied it step by step.
    const resumed = tf.train.adam(0.01);
    await resumed.setWeights(ckpt.optimizer);
    tf.dispose(ckpt.optimizer.map((w) => w.tensor));
    const fresh = await loadCheckpoint(dir);
    tf.dispose(fresh.optimizer.map((w) => w.tensor));
    const freshAdam = tf.train.adam(0.01);
    trainStep(tower, adam);
    trainStep(ckpt.tower, resumed);
    trainStep(fresh.tower, freshAdam);
    const expected = embeddingsOf(tower);
    expect(embeddingsOf(ckpt.tower)).toEqual(expected.map((v) => expect.closeTo(v, 5)));
    // Without the optimizer state the step is visibly different, so the check above means something.
    const freshGap = Math.max(...embeddingsOf(fresh.tower).map((v, i) => Math.abs(v - expected[i])));
    expect(freshGap).toBeGreaterThan(1e-3);

    tf.dispose(saved.map((w) => w.tensor));
    for (const o of [adam, resumed, freshAdam]) o.dispose();
    for (const m of [tower, ckpt.tower, fresh.tower]) m.dispose();
  });

  it('works with state only, and reports missing, altered or invalid files', async () => {
    const dir = join(root, 'checkpoint-plain');
    const tower = buildTower(TOWER, PRE, 4);
    await saveCheckpoint(dir, tower, { state: { epoch: 0 } });
    expect((await readdir(dir)).sort()).toEqual(['checkpoint.json', 'model.json', 'weights.bin']);
    const ckpt = await loadCheckpoint(dir);
    expect(ckpt.optimizer).toEqual([]);
    expect(ckpt.weights).toEqual([]);
    expect(embeddingsOf(ckpt.tower)).toEqual(embeddingsOf(tower));
    ckpt.tower.dispose();

    await expectLoadError(loadCheckpoint(join(root, 'no-checkpoint-here')), 'MODEL_NOT_FOUND');
    const adam = tf.train.adam(0.01);
    trainStep(tower, adam);
    const corrupt = join(root, 'checkpoint-corrupt');
    const weights = await adam.getWeights();
    await saveCheckpoint(corrupt, tower, { state: {}, weights: [new Float32Array([1, 2])], optimizer: weights });
    tf.dispose(weights.map((w) => w.tensor));
    for (const file of ['optimizer.bin', 'variables.bin', 'weights.bin']) {
      const path = join(corrupt, file);
      const original = await readFile(path);
      const bytes = Buffer.from(original);
      bytes[bytes.length - 1] ^= 0x80;
      await writeFile(path, bytes);
      await expectLoadError(loadCheckpoint(corrupt), 'MODEL_CORRUPT', new RegExp(file.replace('.', '\\.')));
      await writeFile(path, original);
    }
    await writeFile(join(corrupt, 'checkpoint.json'), '{"format": "something-else"}');
    await expectLoadError(loadCheckpoint(corrupt), 'CARD_INVALID', /checkpoint\.json/);
    adam.dispose();
    tower.dispose();
  });
});

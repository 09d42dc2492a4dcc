import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PREPROCESS } from './config.js';
import { contrastiveLoss, pairDistance } from './losses.js';
import { buildTower, trainableVariables } from './tower.js';
import { buildTwin } from './twin.js';

const PRE = { ...DEFAULT_PREPROCESS, width: 12, height: 12 };
const smallTower = (seed: number): tf.LayersModel => buildTower({ arch: 'writeup', filters: 4, embeddingSize: 6, l2Normalize: false }, PRE, seed);
const images = (n: number, seed: number): tf.Tensor4D => tf.randomUniform([n, 12, 12, 1], 0, 1, 'float32', seed) as tf.Tensor4D;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('buildTwin', () => {
  it("shares the tower's variables: same count, same variable objects", () => {
    const tower = smallTower(1);
    const twin = buildTwin(tower, { distance: true, l2Normalize: true });
    expect(twin.inputs.map((i) => i.shape)).toEqual([[null, 12, 12, 1], [null, 12, 12, 1]]);
    expect(twin.trainableWeights.length).toBe(tower.trainableWeights.length);
    twin.trainableWeights.forEach((w, i) => {
      expect(w).toBe(tower.trainableWeights[i]);
      expect(w.read()).toBe(tower.trainableWeights[i].read());
    });
    expect(twin.countParams()).toBe(tower.countParams());
    tower.dispose();
  });

  it('training the twin on a pair loss moves the one tower both branches use', () => {
    const tower = smallTower(2);
    const twin = buildTwin(tower);
    const [xa, xb] = [images(4, 1), images(4, 2)];
    const same = tf.tensor1d([1, 0, 1, 0]);
    const initial = tower.getWeights().map((w) => w.clone());
    const optimizer = tf.train.sgd(0.5);
    const loss = (): tf.Scalar => {
      const [ea, eb] = twin.apply([xa, xb], { training: true }) as tf.Tensor2D[];
      return contrastiveLoss(pairDistance(ea, eb), same, 1);
    };
    const first = tf.tidy(() => loss().dataSync()[0]);
    for (let step = 0; step < 3; step++) optimizer.minimize(loss, true, trainableVariables(twin))?.dispose();
    const after = tf.tidy(() => loss().dataSync()[0]);
    expect(after).toBeLessThan(first);

    // The tower's own weights changed...
    const changed = tower.getWeights().some((w, i) => tf.tidy(() => tf.any(tf.notEqual(w, initial[i])).dataSync()[0]) === 1);
    expect(changed).toBe(true);
    // ...and both branches of the twin are exactly the tower.
    const [ta, tb] = [tower.predict(xa) as tf.Tensor, tower.predict(xb) as tf.Tensor];
    const [oa, ob] = twin.predict([xa, xb]) as tf.Tensor[];
    const [sa, sb] = twin.predict([xb, xa]) as tf.Tensor[];
    expect(Array.from(oa.dataSync())).toEqual(Array.from(ta.dataSync()));
    expect(Array.from(ob.dataSync())).toEqual(Array.from(tb.dataSync()));
    expect(Array.from(sa.dataSync())).toEqual(Array.from(tb.dataSync()));
    expect(Array.from(sb.dataSync())).toEqual(Array.from(ta.dataSync()));
    tf.dispose([xa, xb, same, ...initial, ta, tb, oa, ob, sa, sb]);
    optimizer.dispose();
    tower.dispose();
  });

  it('optionally normalises both embeddings and outputs their distance', () => {
    const tower = smallTower(3);
    const twin = buildTwin(tower, { l2Normalize: true, distance: true });
    const [xa, xb] = [images(3, 3), images(3, 4)];
    const before = tf.memory().numTensors;
    const outputs = twin.predict([xa, xb]) as tf.Tensor[];
    expect(outputs.map((o) => o.shape)).toEqual([[3, 6], [3, 6], [3, 1]]);
    const [ea, eb, d] = outputs;
    const norms = tf.tidy(() => tf.norm(ea, 'euclidean', 1).dataSync());
    for (const n of norms) expect(n).toBeCloseTo(1, 5);
    const expected = tf.tidy(() => pairDistance(ea as tf.Tensor2D, eb as tf.Tensor2D).dataSync());
    expect(Array.from(d.dataSync())).toEqual(Array.from(expected).map((v) => expect.closeTo(v, 6)));
    tf.dispose(outputs);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xa, xb]);
    tower.dispose();
  });
});
